//! A test PKI made with the openssl command line, for the mutual-TLS tests
//! (RFC 8705): a CA, the provider's server certificate (127.0.0.1) and
//! client certificates; `oidc.mjs --mtls DIR` serves with them, and Latch
//! trusts the CA through `SSL_CERT_FILE`.

use std::path::PathBuf;
use std::process::Command;

use crate::{http, Latch, Provider};

/// A test CA, the provider's server certificate and client certificates,
/// made with the openssl command line in a temporary directory.
pub struct Pki {
    pub dir: tempfile::TempDir,
}

impl Pki {
    pub fn new() -> Pki {
        let pki = Pki {
            dir: tempfile::tempdir().unwrap(),
        };
        pki.openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca-key.pem",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=Latch Test CA",
        ]);
        pki.issue(
            "server",
            "/CN=127.0.0.1",
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
        );
        pki.issue(
            "client",
            "/CN=latch-mtls-client",
            "extendedKeyUsage=clientAuth\n",
        );
        pki.issue(
            "stranger",
            "/CN=someone-else",
            "extendedKeyUsage=clientAuth\n",
        );
        pki
    }

    /// oidc-provider with its mutual-TLS front on this PKI (`oidc.mjs --mtls`).
    pub fn oidc(&self) -> Provider {
        self.oidc_with(&[])
    }

    /// The same, with more of oidc.mjs's options (e.g. `--device`).
    pub fn oidc_with(&self, more: &[&str]) -> Provider {
        let mut args = vec!["--mtls", self.dir.path().to_str().unwrap()];
        args.extend_from_slice(more);
        Provider::oidc(&args)
    }

    /// Makes `latch` (the CLI, the app started for it and the browser it
    /// opens) trust the test CA.
    pub fn trust(&self, latch: &Latch) {
        latch.set_env("SSL_CERT_FILE", &self.arg("ca.pem"));
        // And the scripted browser it starts (Node), for pages on the TLS port.
        latch.set_env("NODE_EXTRA_CA_CERTS", &self.arg("ca.pem"));
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn arg(&self, name: &str) -> String {
        self.path(name).to_str().unwrap().to_owned()
    }

    fn openssl(&self, args: &[&str]) {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .expect("openssl runs (make test installs it)");
        assert!(
            out.status.success(),
            "openssl {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `NAME.pem` and `NAME-key.pem`, signed by the test CA.
    fn issue(&self, name: &str, subject: &str, extensions: &str) {
        let (key, csr) = (format!("{name}-key.pem"), format!("{name}.csr"));
        self.openssl(&[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &csr,
            "-subj",
            subject,
        ]);
        std::fs::write(self.path(&format!("{name}.ext")), extensions).unwrap();
        self.openssl(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca-key.pem",
            "-CAcreateserial",
            "-days",
            "2",
            "-out",
            &format!("{name}.pem"),
            "-extfile",
            &format!("{name}.ext"),
        ]);
    }

    /// `expired.pem` and its key: the client's name, valid only in January 2020
    /// (`openssl ca` can date a certificate in the past).
    pub fn issue_expired(&self) {
        let dir = self.dir.path().to_str().unwrap();
        std::fs::write(self.path("index.txt"), "").unwrap();
        std::fs::write(self.path("serial"), "1000\n").unwrap();
        std::fs::write(
            self.path("ca.cnf"),
            format!(
                "[ca]\ndefault_ca = test\n[test]\ndatabase = {dir}/index.txt\nnew_certs_dir = {dir}\nserial = {dir}/serial\n\
                 default_md = sha256\npolicy = any\nx509_extensions = v3\n[any]\ncommonName = supplied\n[v3]\nbasicConstraints = CA:FALSE\nextendedKeyUsage = clientAuth\n"
            ),
        )
        .unwrap();
        self.openssl(&[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "expired-key.pem",
            "-out",
            "expired.csr",
            "-subj",
            "/CN=latch-mtls-client",
        ]);
        self.openssl(&[
            "ca",
            "-batch",
            "-config",
            "ca.cnf",
            "-cert",
            "ca.pem",
            "-keyfile",
            "ca-key.pem",
            "-in",
            "expired.csr",
            "-out",
            "expired.pem",
            "-startdate",
            "20200101000000Z",
            "-enddate",
            "20200102000000Z",
            "-notext",
        ]);
    }

    /// The client certificate and key as a PKCS#12 file with `password`.
    pub fn pkcs12(&self, password: &str) -> String {
        self.openssl(&[
            "pkcs12",
            "-export",
            "-inkey",
            "client-key.pem",
            "-in",
            "client.pem",
            "-certfile",
            "ca.pem",
            "-out",
            "client.p12",
            "-passout",
            &format!("pass:{password}"),
        ]);
        self.arg("client.p12")
    }

    /// The base64 lines of `NAME-key.pem`: what must never leak.
    pub fn key_lines(&self, name: &str) -> Vec<String> {
        let read = |file: String| std::fs::read_to_string(self.path(&file)).unwrap();
        key_body(&(read(format!("{name}.pem")) + &read(format!("{name}-key.pem"))))
    }
}

/// The base64 lines of the private key in `pem` (certificate and key) that
/// are not also in its certificate: an EC key's PKCS#8 form ends with the
/// public key, which can line up with the certificate's base64 by chance.
pub fn key_body(pem: &str) -> Vec<String> {
    let (certificate, key) = pem.split_at(
        pem.find("-----BEGIN PRIVATE KEY-----")
            .expect("a PKCS#8 private key"),
    );
    let certificate: String = certificate
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    key.lines()
        .skip(1)
        .take_while(|l| !l.starts_with("-----"))
        .filter(|l| !certificate.contains(*l))
        .map(str::to_owned)
        .collect()
}

/// The origin of `op`'s mutual-TLS front, from the aliases its metadata names.
pub fn mtls_origin(op: &Provider) -> String {
    let metadata = http("GET", &op.url("/.well-known/openid-configuration"), &[], "").1;
    let alias = metadata["mtls_endpoint_aliases"]["token_endpoint"]
        .as_str()
        .expect("the server names its mTLS aliases");
    alias.trim_end_matches("/token").to_owned()
}
