//! OAuth 1.0a signing benchmark (`make bench`, release build): prints one
//! JSON line with the median CPU time per signed request — HMAC-SHA1, ten
//! request parameters, a 1 KiB JSON body with `oauth_body_hash`, the
//! Authorization header — over `BENCH_OAUTH1_COUNT` (10,000) signatures.
//! bench/oauth1.sh runs oauthlib's `Client.sign` on the same request in the
//! same run and prints both.

use std::time::Instant;

use chrono::Utc;
use latch_core::flows::oauth1::{sign, Key, Method, Signing, Transport};
use oauth2::http;

fn main() {
    let count: usize = std::env::var("BENCH_OAUTH1_COUNT").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let query: Vec<String> = (0..10).map(|i| format!("param{i}=value%20{i}")).collect();
    let url = format!("https://api.example.com/1/statuses/update.json?{}", query.join("&"));
    let body = format!(r#"{{"text":"{}"}}"#, "x".repeat(1024 - 11));
    let request = http::Request::builder()
        .method("POST")
        .uri(url.as_str())
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(body.into_bytes())
        .unwrap();
    let now = Utc::now();
    let mut runs = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        for _ in 0..count {
            let mut signed = request.clone();
            let signing = Signing {
                method: Method::HmacSha1,
                transport: Transport::Header,
                consumer_key: "dpf43f3p2l4k3l03",
                key: Key::Secret { consumer_secret: "kd94hf93k423kf44", token_secret: Some("pfkkdhi9sl3r4s00") },
                token: Some("nnch734d00sl2jdk"),
                callback: None,
                verifier: None,
                body_hash: true,
                now,
                nonce: None,
            };
            sign(&signing, &mut signed).unwrap();
            std::hint::black_box(signed);
        }
        runs.push(started.elapsed().as_secs_f64() / count as f64);
    }
    runs.sort_by(f64::total_cmp);
    println!(
        "{}",
        serde_json::json!({ "bench": "oauth1", "signer": "latch", "signatures": count, "us_per_signature": runs[2] * 1e6 })
    );
}
