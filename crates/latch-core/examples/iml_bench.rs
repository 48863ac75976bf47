//! IML benchmark (`make bench`, release build): prints one JSON line.
//!
//! - `eval_block_us`: median time for `eval_json` (parse + evaluate) of the
//!   `token.response` block of App Academy's spec (MAKE-SPEC-NOTES.md §7.1:
//!   `data.accessToken`, `data.refreshToken`, `data.expires`, `expires`,
//!   `error.message` — 5 templates). Target ≤ 20 µs.
//! - `eval_block_preparsed_us`: the same 5 templates parsed once, evaluated
//!   only (what a runner that keeps parsed templates pays).
//! - `check_spec_ms`: median time to read a 50 kB spec (App Academy's
//!   communication block repeated under new keys) from its JSON text and
//!   `check_json` it. Target ≤ 5 ms.
//! - `check_file_ms`: median time for what `latch spec check` does with a
//!   50 kB single-file spec (App Academy's communication, parameters and a
//!   scope list filling the rest): read it, validate it against
//!   docs/latch-spec.schema.json, check every template and the variables it
//!   reads. Target ≤ 5 ms.

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::{TimeZone, Utc};
use latch_core::spec::iml::{check_json, eval_json, Context, Template, Value, Vars};
use serde_json::json;

fn communication() -> serde_json::Value {
    json!({
      "authorize": {
        "url": "https://app-academy.make.com/api/v2/authorize",
        "qs": { "client_id": "{{common.clientId}}", "redirect_uri": "{{oauth.localRedirectUri}}",
                "response_type": "code", "scope": "{{join(oauth.scope, ' ')}}" },
        "response": { "temp": { "code": "{{query.code}}" } }
      },
      "token": {
        "condition": "{{temp.code}}",
        "url": "https://app-academy.make.com/api/v2/token", "method": "POST",
        "body": { "code": "{{temp.code}}", "grant_type": "authorization_code",
                  "client_id": "{{common.clientId}}", "client_secret": "{{common.clientSecret}}",
                  "redirect_uri": "{{oauth.localRedirectUri}}" },
        "response": {
          "data": { "accessToken": "{{body.access_token}}", "refreshToken": "{{body.refresh_token}}",
                    "expires": "{{addMinutes(now, ifempty(body.expires_in, get(body, 'expires-in')))}}" },
          "expires": "{{addMinutes(now, body.refresh_expires_in)}}",
          "error": { "message": "[{{statusCode}}] {{body.error.message}}" }
        },
        "log": { "sanitize": ["request.body.code", "request.body.client_secret",
                              "response.body.access_token", "response.body.refresh_token"] }
      },
      "refresh": {
        "condition": "{{data.expires < addMinutes(now, 1)}}",
        "url": "https://app-academy.make.com/api/v2/refresh", "method": "POST",
        "body": { "grant_type": "refresh_token", "refresh_token": "{{data.refreshToken}}",
                  "client_id": "{{common.clientId}}", "client_secret": "{{common.clientSecret}}" },
        "response": {
          "data": { "accessToken": "{{body.access_token}}",
                    "refreshToken": "{{ifempty(body.refresh_token, data.refreshToken)}}",
                    "expires": "{{addMinutes(now, body.expires_in)}}" },
          "expires": "{{addMinutes(now, body.refresh_expires_in)}}"
        },
        "log": { "sanitize": ["request.body.refresh_token", "request.body.client_secret",
                              "response.body.access_token", "response.body.refresh_token"] }
      },
      "info": {
        "url": "https://app-academy.make.com/api/v2/info",
        "headers": { "authorization": "Bearer {{connection.accessToken}}" },
        "response": { "uid": "{{body.id}}", "metadata": { "type": "text", "value": "{{body.user}}" } },
        "log": { "sanitize": ["request.headers.authorization"] }
      },
      "invalidate": {
        "url": "https://app-academy.make.com/api/v2/invalidate",
        "headers": { "authorization": "Bearer {{connection.accessToken}}" },
        "log": { "sanitize": ["request.headers.authorization"] }
      }
    })
}

fn vars() -> Vars {
    let json = json!({
        "body": {"access_token": "eyJhbGciOiJIUzI1NiJ9.e30.signature", "refresh_token": "rt-0123456789abcdef",
                 "expires_in": 60, "refresh_expires_in": 43200, "token_type": "Bearer"},
        "statusCode": 200,
        "temp": {"code": "c0de"},
        "data": {"refreshToken": "rt-old", "expires": "2025-01-01T00:00:30.000Z"},
        "common": {"clientId": "client", "clientSecret": "secret"},
        "oauth": {"scope": ["connect", "read", "write", "delete"], "localRedirectUri": "https://www.make.com/oauth/cb/app"},
        "parameters": {},
        "headers": {"content-type": "application/json"}
    });
    let Value::Object(map) = Value::from_json(&json) else { unreachable!() };
    map.into_iter().collect::<BTreeMap<_, _>>()
}

/// Median over `samples` timings of `batch` runs each, in seconds per run.
fn median_secs(samples: usize, batch: usize, mut f: impl FnMut()) -> f64 {
    for _ in 0..batch {
        f();
    }
    let mut times: Vec<f64> = (0..samples)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..batch {
                f();
            }
            start.elapsed().as_secs_f64() / batch as f64
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn count_templates(v: &serde_json::Value) -> usize {
    match v {
        serde_json::Value::String(s) => usize::from(s.contains("{{")),
        serde_json::Value::Array(items) => items.iter().map(count_templates).sum(),
        serde_json::Value::Object(map) => map.values().map(count_templates).sum(),
        _ => 0,
    }
}

fn main() {
    let vars = vars();
    let ctx = Context::new(&vars, Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap());
    let block = communication()["token"]["response"].clone();
    assert_eq!(count_templates(&block), 5);
    let out = eval_json(&block, &ctx).expect("the block evaluates");
    assert_eq!(out.to_json().unwrap()["data"]["expires"], json!("2025-01-01T01:00:00.000Z"));

    let eval_block = median_secs(200, 50, || {
        std::hint::black_box(eval_json(std::hint::black_box(&block), &ctx).unwrap());
    });

    let sources = [
        &block["data"]["accessToken"],
        &block["data"]["refreshToken"],
        &block["data"]["expires"],
        &block["expires"],
        &block["error"]["message"],
    ];
    let templates: Vec<Template> = sources.iter().map(|s| Template::parse(s.as_str().unwrap()).unwrap()).collect();
    let eval_preparsed = median_secs(200, 50, || {
        for t in &templates {
            std::hint::black_box(t.eval(&ctx).unwrap());
        }
    });

    // A 50 kB spec: the communication block again and again, under new keys.
    let one = communication();
    let mut spec = serde_json::Map::new();
    let mut text = String::new();
    let mut copies = 0;
    while text.len() < 50_000 {
        spec.insert(format!("connection{copies}"), one.clone());
        copies += 1;
        text = serde_json::to_string_pretty(&serde_json::Value::Object(spec.clone())).unwrap();
    }
    let spec_templates = count_templates(&serde_json::from_str(&text).unwrap());
    let check = median_secs(50, 4, || {
        let tree: serde_json::Value = serde_json::from_str(std::hint::black_box(&text)).unwrap();
        let problems = check_json(&tree);
        assert!(problems.is_empty());
        std::hint::black_box(problems);
    });
    let check_only = {
        let tree: serde_json::Value = serde_json::from_str(&text).unwrap();
        median_secs(50, 4, || {
            std::hint::black_box(check_json(std::hint::black_box(&tree)));
        })
    };

    // The same size as one file `latch spec check` reads.
    let mut parameters = Vec::new();
    let mut scopes = serde_json::Map::new();
    let mut file = String::new();
    while file.len() < 50_000 {
        let n = parameters.len();
        parameters.push(json!({
            "name": format!("field{n}"), "type": if n % 3 == 0 { "select" } else { "text" }, "label": format!("Field number {n}"),
            "help": "What the service calls this value, as shown on its settings page under Integrations.",
            "required": n % 2 == 0, "options": [{ "label": "One", "value": "1" }, { "label": "Two", "value": "2" }]
        }));
        scopes.insert(format!("scope.{n}:read"), json!(format!("Read the records of area {n}")));
        file = serde_json::to_string_pretty(&json!({
            "name": "bench", "communication": one, "parameters": parameters, "defaultScope": ["scope.0:read"],
            "scopeList": scopes, "common": { "clientId": "", "clientSecret": "" },
            "base": { "baseUrl": "https://api.example.com/v2", "headers": { "authorization": "Bearer {{connection.accessToken}}" } }
        }))
        .unwrap();
    }
    let check_file = median_secs(50, 4, || {
        let document = latch_core::spec::document::parse_single(std::hint::black_box(&file), "bench").unwrap();
        let problems = latch_core::Engine::spec_problems(&document);
        assert!(problems.is_empty(), "{problems:?}");
        std::hint::black_box(problems);
    });

    println!(
        "{}",
        json!({
            "bench": "iml",
            "eval_block_templates": 5,
            "eval_block_us": eval_block * 1e6,
            "eval_block_preparsed_us": eval_preparsed * 1e6,
            "eval_block_target_us": 20,
            "spec_bytes": text.len(),
            "spec_copies": copies,
            "spec_templates": spec_templates,
            "check_spec_ms": check * 1e3,
            "check_json_only_ms": check_only * 1e3,
            "check_spec_target_ms": 5,
            "file_bytes": file.len(),
            "check_file_ms": check_file * 1e3,
            "check_file_target_ms": 5,
        })
    );
}
