//! IML's tests: one table of templates and what they evaluate to (every
//! operator and function, Make's documented examples, the edge cases),
//! then the parts a table cannot show (limits, positions, JSON trees, time
//! zones) and a property test that no input panics.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::json;

use super::*;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap()
}

fn fixture() -> Vars {
    let json = json!({
        "temp": {
            "verifier": "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
            "code": "abc", "list": [1, 2, 3], "empty": "", "nil": null, "n": "42", "obj": {"a": 1}
        },
        "parameters": {"id": 7, "name": "Ann", "email": "ann@example.com", "scopes": ["x", "y"], "tenant": "acme"},
        "common": {"clientId": "cid", "clientSecret": "secret"},
        "data": {"expires": "2025-01-01T00:00:30.000Z", "accessToken": "at", "refreshToken": "rt"},
        "connection": {"accessToken": "at"},
        "oauth": {"scope": ["read", "write"], "localRedirectUri": "https://www.make.com/oauth/cb/app"},
        "body": {
            "access_token": "A", "expires_in": 3600, "expires-in": 60, "error": {"message": "bad"},
            "items": [{"name": "b", "n": 2, "type": "x"}, {"name": "a", "n": 1, "type": "y"}, {"name": "c", "n": 3, "type": "x"}],
            "result": {"validUntil": 1735689600}
        },
        "headers": {"X-Id": "h1", "content-type": "application/json"},
        "statusCode": 200,
        "query": {"code": "q", "state": "s"},
        "weird key": "w"
    });
    match Value::from_json(&json) {
        Value::Object(m) => m.into_iter().collect(),
        _ => unreachable!(),
    }
}

/// Evaluates with the fixture, in UTC at 2025-01-01T00:00:00Z.
fn run(template: &str) -> Result<Value, ImlError> {
    let vars = fixture();
    let ctx = Context::new(&vars, now());
    Template::parse(template)?.eval(&ctx)
}

fn run_in(template: &str, tz: chrono_tz::Tz) -> Result<Value, ImlError> {
    let vars = fixture();
    let mut ctx = Context::new(&vars, now());
    ctx.timezone = tz;
    Template::parse(template)?.eval(&ctx)
}

fn run_with(template: &str, limits: Limits) -> Result<Value, ImlError> {
    let vars = fixture();
    let mut ctx = Context::new(&vars, now());
    ctx.limits = limits;
    Template::parse(template)?.eval(&ctx)
}

/// Template → expected: JSON text of `Value::to_json`, `undefined`, or
/// `!text` for an error whose message contains `text`.
#[rustfmt::skip]
const CASES: &[(&str, &str)] = &[
    // ---- templates and literals
    ("plain text", r#""plain text""#),
    ("{{1 + 2}}", "3"),
    ("a{{1}}b", r#""a1b""#),
    ("{{'x'}}", r#""x""#),
    (r#"{{"dq"}}"#, r#""dq""#),
    ("{{true}}", "true"),
    ("{{false}}", "false"),
    ("{{null}}", "null"),
    ("{{1.5}}", "1.5"),
    ("{{.5}}", "0.5"),
    ("{{1e3}}", "1000"),
    (r"{{'it\'s'}}", r#""it's""#),
    (r"{{'a\\b'}}", r#""a\\b""#),
    ("{{ 1 }}", "1"),
    ("{{\n  1\n}}", "1"),
    ("x {{ 'a' }} y {{2}}", r#""x a y 2""#),
    ("{{parameters.missing}}", "undefined"),
    ("a{{parameters.missing}}b", r#""ab""#),
    ("{{null}}x", r#""x""#),
    ("{{true}} {{1.5}}", r#""true 1.5""#),
    ("{{omit(parameters, 'id')}}", r#"{"email":"ann@example.com","name":"Ann","scopes":["x","y"],"tenant":"acme"}"#),
    ("{{parameters.scopes}}", r#"["x","y"]"#),
    ("n={{parameters.scopes}}", r#""n=x,y""#),
    ("o={{temp.obj}}", r#""o={\"a\":1}""#),
    ("{{now}}", r#""2025-01-01T00:00:00.000Z""#),
    ("t={{now}}", r#""t=2025-01-01T00:00:00.000Z""#),
    ("{{1000000 * 1000000 * 1000000 * 1000}}", "1e21"),
    ("x{{1000000 * 1000000 * 1000000 * 1000}}", r#""x1e+21""#),
    ("x{{1 / 3}}", r#""x0.3333333333333333""#),
    ("x{{0.0000001}}", r#""x1e-7""#),
    ("x{{0.000001}}", r#""x0.000001""#),
    ("x{{-0}}", r#""x0""#),
    ("{{ '}}' }}", r#""}}""#),
    ("a}}b", r#""a}}b""#),
    // ---- arithmetic and concatenation
    ("{{1 + 2 * 3}}", "7"),
    ("{{(1 + 2) * 3}}", "9"),
    ("{{10 - 4 - 3}}", "3"),
    ("{{2 * 3 % 4}}", "2"),
    ("{{7 / 2}}", "3.5"),
    ("{{7 % 3}}", "1"),
    ("{{-7 % 3}}", "-1"),
    ("{{0.1 + 0.2}}", "0.3"),
    ("{{0.1 * 3}}", "0.3"),
    ("{{0.3 - 0.1}}", "0.2"),
    ("{{1 / 0}}", "null"),
    ("{{'a' + 1}}", r#""a1""#),
    ("{{1 + 'a'}}", r#""1a""#),
    ("{{'1' + 1}}", r#""11""#),
    ("{{'3' * '4'}}", "12"),
    ("{{'10' - 1}}", "9"),
    ("{{'x' - 1}}", "null"),
    ("{{null + 1}}", "1"),
    ("{{parameters.missing + 'x'}}", r#""x""#),
    ("{{parameters.missing + parameters.missing}}", "undefined"),
    ("{{true + 1}}", "2"),
    ("{{'a' + 1 + 2}}", r#""a12""#),
    ("{{1 + 2 + 'a'}}", r#""3a""#),
    ("{{-parameters.id}}", "-7"),
    ("{{+'5'}}", "5"),
    ("{{- -2}}", "2"),
    ("{{temp.n * 2}}", "84"),
    ("{{addMinutes(now, 1) - now}}", "60000"),
    // ---- logic
    ("{{!true}}", "false"),
    ("{{!!'x'}}", "true"),
    ("{{!0}}", "true"),
    ("{{!''}}", "true"),
    ("{{!emptyarray}}", "false"),
    ("{{!parameters.missing}}", "true"),
    ("{{true && 'x'}}", r#""x""#),
    ("{{0 && 'x'}}", "0"),
    ("{{'' || 'd'}}", r#""d""#),
    ("{{'a' || 'd'}}", r#""a""#),
    ("{{true & false}}", "false"),
    ("{{false | 'alt'}}", r#""alt""#),
    ("{{temp.arr || emptyarray}}", "[]"),
    ("{{1 < 2 && 2 < 3}}", "true"),
    ("{{true || parseJSON('not json')}}", "true"),
    ("{{false && parseJSON('not json')}}", "false"),
    ("{{1 + 2 = 3}}", "true"),
    ("{{!1 = false}}", "true"),
    ("{{2 > 1 = true}}", "true"),
    ("{{1 = 1 && 2 = 3 || 'x'}}", r#""x""#),
    // ---- comparison
    ("{{1 < 2}}", "true"),
    ("{{2 <= 2}}", "true"),
    ("{{3 > 4}}", "false"),
    ("{{3 >= 4}}", "false"),
    ("{{4 >= 4}}", "true"),
    ("{{'a' < 'b'}}", "true"),
    ("{{'10' < '9'}}", "true"),
    ("{{'10' < 9}}", "false"),
    ("{{parameters.missing < 1}}", "false"),
    ("{{parameters.missing > 1}}", "false"),
    ("{{null < 1}}", "true"),
    ("{{data.expires < addMinutes(now, 1)}}", "true"),
    ("{{data.expires < addMinutes(now, 15)}}", "true"),
    ("{{data.expires > now}}", "true"),
    ("{{data.expires < now}}", "false"),
    ("{{data.expires <= '2025-01-01T00:00:30Z'}}", "true"),
    ("{{addMinutes(now, 1) > data.expires}}", "true"),
    ("{{addMinutes(now, 1) > addSeconds(now, 59)}}", "true"),
    ("{{now > 0}}", "true"),
    ("{{now >= 1735689600000}}", "true"),
    ("{{parameters.missing < now}}", "false"),
    ("{{now < 'not a date'}}", "false"),
    // ---- equality (loose, all spellings)
    ("{{1 = 1}}", "true"),
    ("{{1 == '1'}}", "true"),
    ("{{1 === '1'}}", "true"),
    ("{{'0' === 0}}", "true"),
    ("{{1 != '1'}}", "false"),
    ("{{1 !== 2}}", "true"),
    ("{{null = parameters.missing}}", "true"),
    ("{{null == 0}}", "false"),
    ("{{null != ''}}", "true"),
    ("{{true = 1}}", "true"),
    ("{{'a' = 'a'}}", "true"),
    ("{{'a' = 'A'}}", "false"),
    ("{{'' = 0}}", "true"),
    ("{{statusCode = 200}}", "true"),
    ("{{statusCode = '200'}}", "true"),
    ("{{statusCode != 201}}", "true"),
    ("{{parameters.scopes = parameters.scopes}}", "true"),
    ("{{parameters.scopes = 'x,y'}}", "true"),
    ("{{now = '2025-01-01T00:00:00Z'}}", "true"),
    ("{{now = 1735689600000}}", "true"),
    ("{{formatDate(now, 'X') = 1735689600}}", "true"),
    // ---- paths
    ("{{parameters.name}}", r#""Ann""#),
    ("{{headers.`X-Id`}}", r#""h1""#),
    ("{{headers['X-Id']}}", r#""h1""#),
    ("{{headers.`content-type`}}", r#""application/json""#),
    ("{{`weird key`}}", r#""w""#),
    ("{{temp.list[1]}}", "1"),
    ("{{temp.list[-1]}}", "3"),
    ("{{temp.list[-3]}}", "1"),
    ("{{temp.list[-4]}}", "undefined"),
    ("{{temp.list[0]}}", "undefined"),
    ("{{temp.list[4]}}", "undefined"),
    ("{{temp.list[]}}", "1"),
    ("{{temp.list[1 + 1]}}", "2"),
    ("{{temp.list['2']}}", "2"),
    ("{{temp.list[1.5]}}", "undefined"),
    ("{{body.items[2].name}}", r#""a""#),
    ("{{body.items[].name}}", r#""b""#),
    ("{{body.items.2.name}}", r#""a""#),
    ("{{body.`expires-in`}}", "60"),
    ("{{body.error.message}}", r#""bad""#),
    ("{{body.nothing.deeper.still}}", "undefined"),
    ("{{temp.code.length}}", "undefined"),
    ("{{temp.obj[]}}", r#"{"a":1}"#),
    ("{{temp.missing[]}}", "undefined"),
    ("{{(temp.list)[2]}}", "2"),
    (r#"{{parseJSON('{"a":[5,6]}').a[2]}}"#, "6"),
    ("{{body.items[parameters.missing]}}", "undefined"),
    ("{{statusCode}}", "200"),
    ("{{query.code}}", r#""q""#),
    // ---- keywords
    ("{{emptyarray}}", "[]"),
    ("{{emptystring}}", r#""""#),
    ("a{{space}}b", r#""a b""#),
    ("{{newline}}", r#""\n""#),
    ("{{tab}}", r#""\t""#),
    ("{{nbsp}}", r#""\u00a0""#),
    ("{{carriagereturn}}", r#""\r""#),
    ("{{timestamp}}", "1735689600"),
    ("{{pi}}", "3.141592653589793"),
    ("{{erase}}", "null"),
    ("{{ignore}}", "undefined"),
    ("{{length(uuid)}}", "36"),
    ("{{random < 1 && random >= 0}}", "true"),
    // ---- separators
    ("{{if(true; 'a'; 'b')}}", r#""a""#),
    ("{{if(true, 'a'; 'b')}}", r#""a""#),
    ("{{formatDate(now; 'YYYY')}}", r#""2025""#),
    ("{{join( oauth.scope ; ' ' )}}", r#""read write""#),
    // ---- general functions
    ("{{if(true, 'a', 'b')}}", r#""a""#),
    ("{{if(0, 'a', 'b')}}", r#""b""#),
    ("{{if(false, 'a')}}", "undefined"),
    ("{{if(true, 'ok', parseJSON('nope'))}}", r#""ok""#),
    ("{{if(data.accessToken, data.expires < addMinutes(now, 1), true)}}", "true"),
    ("{{if(data.missing, data.expires < addMinutes(now, 1), true)}}", "true"),
    ("{{ifempty('', 'B')}}", r#""B""#),
    ("{{ifempty(null, 'B')}}", r#""B""#),
    ("{{ifempty(parameters.missing, 'B')}}", r#""B""#),
    ("{{ifempty('A', 'B')}}", r#""A""#),
    ("{{ifempty(emptyarray, 'B')}}", "[]"),
    ("{{ifempty(0, 'B')}}", "0"),
    ("{{ifempty(false, 'B')}}", "false"),
    ("{{ifempty(emptystring, 'B')}}", r#""B""#),
    ("{{ifempty(temp.empty, temp.nil)}}", "null"),
    ("{{ifempty('A', parseJSON('nope'))}}", r#""A""#),
    ("{{ifempty(body.refresh_token, data.refreshToken)}}", r#""rt""#),
    ("{{switch('b', 'a', 1, 'b', 2)}}", "2"),
    ("{{switch('z', 'a', 1, 'b', 2, 3)}}", "3"),
    ("{{switch('z', 'a', 1)}}", "undefined"),
    ("{{switch(statusCode, '200', 'ok', 'other')}}", r#""ok""#),
    ("{{switch('a', 'a', 'first', 'a', 'second')}}", r#""first""#),
    ("{{get(body, 'expires-in')}}", "60"),
    ("{{get(body, 'error.message')}}", r#""bad""#),
    ("{{get(body, 'items.1.name')}}", r#""b""#),
    ("{{get(body, 'items[3].name')}}", r#""c""#),
    ("{{get(body, 'items[].name')}}", r#""b""#),
    ("{{get(temp.list, 2)}}", "2"),
    ("{{get(temp.list, -1)}}", "3"),
    ("{{get(body, 'no.such')}}", "undefined"),
    ("{{get(parameters.missing, 'a')}}", "undefined"),
    ("{{omit(parameters, 'id', 'scopes', 'tenant')}}", r#"{"email":"ann@example.com","name":"Ann"}"#),
    ("{{omit(parameters.missing, 'id')}}", "undefined"),
    ("{{pick(parameters, 'id', 'name')}}", r#"{"id":7,"name":"Ann"}"#),
    ("{{pick(parameters, split('name,id', ','))}}", r#"{"id":7,"name":"Ann"}"#),
    ("{{pick(parameters, parameters.missing)}}", "{}"),
    ("{{pick('text', 'a')}}", "!expected an object"),
    // ---- text
    ("{{ascii('ěščřž')}}", r#""""#),
    ("{{ascii('ěščřž', true)}}", r#""escrz""#),
    ("{{ascii('Heľľo wořld', true)}}", r#""Hello world""#),
    ("{{ascii('naïve café')}}", r#""nave caf""#),
    ("{{base64('Make')}}", r#""TWFrZQ==""#),
    ("{{base64(common.clientId + ':' + common.clientSecret)}}", r#""Y2lkOnNlY3JldA==""#),
    ("{{base64url('ä?>')}}", r#""w6Q_Pg""#),
    ("{{base64(parameters.missing)}}", "undefined"),
    ("{{capitalize('make')}}", r#""Make""#),
    ("{{capitalize('')}}", r#""""#),
    ("{{contains('Hello World', 'World')}}", "true"),
    ("{{contains('Hello World', 'world')}}", "false"),
    ("{{contains('Hello World', 'world', true)}}", "true"),
    ("{{contains(oauth.scope, 'read')}}", "true"),
    ("{{contains(oauth.scope, 'admin')}}", "false"),
    ("{{contains(oauth.scope, 'READ', true)}}", "true"),
    ("{{contains(parameters.missing, 'a')}}", "false"),
    ("{{decodeURL('Automation%20app')}}", r#""Automation app""#),
    ("{{decodeURL('%E2%82%AC+')}}", r#""€+""#),
    ("{{decodeURL('%zz')}}", "!not a well-formed"),
    ("{{encodeURL('Encoded URL')}}", r#""Encoded%20URL""#),
    ("{{encodeURL('a/b?c=d&e')}}", r#""a%2Fb%3Fc%3Dd%26e""#),
    ("{{encodeURL('€')}}", r#""%E2%82%AC""#),
    ("{{encodeURL(oauth.localRedirectUri)}}", r#""https%3A%2F%2Fwww.make.com%2Foauth%2Fcb%2Fapp""#),
    ("{{escapeHTML('<b>Hello</b>')}}", r#""&lt;b&gt;Hello&lt;/b&gt;""#),
    (r#"{{escapeHTML('a & "b"')}}"#, r#""a &amp; &quot;b&quot;""#),
    ("{{escapeMarkdown('# Header')}}", r#""\\# Header""#),
    ("{{escapeMarkdown('*bold*')}}", r#""\\*bold\\*""#),
    ("{{indexOf('Make', 'k')}}", "2"),
    ("{{indexOf('We love Make', 'x')}}", "-1"),
    ("{{indexOf('We love Make', 'e')}}", "1"),
    ("{{indexOf('We love Make', 'e', 7)}}", "11"),
    ("{{indexOf('čau čau', 'a')}}", "1"),
    ("{{indexOf(oauth.scope, 'write')}}", "1"),
    ("{{indexOf('Bearer x', 'Bearer') = 0}}", "true"),
    ("{{length('hello')}}", "5"),
    ("{{length('čau')}}", "3"),
    ("{{length(oauth.scope)}}", "2"),
    ("{{length(parameters.missing)}}", "0"),
    ("{{length(emptyarray)}}", "0"),
    ("{{length(body.error)}}", "1"),
    ("{{lower('HeLLo')}}", r#""hello""#),
    ("{{upper('HeLLo')}}", r#""HELLO""#),
    ("{{lower(parameters.missing)}}", "undefined"),
    ("{{upper(null)}}", "null"),
    ("{{md5('Make')}}", r#""529a05ca6c1263aab080ec4f20754411""#),
    ("{{replace('Hello World', 'Hello', 'Hi')}}", r#""Hi World""#),
    ("{{replace('a-b-c', '-', '+')}}", r#""a+b+c""#),
    (r"{{replace('All these numbers 01 02 03', '/\d+/g', 'X')}}", r#""All these numbers X X X""#),
    (r"{{replace('a1b22', '/\d+/', '#')}}", r##""a#b22""##),
    (r"{{replace('John Smith', '/(\w+)\s(\w+)/', '$2, $1')}}", r#""Smith, John""#),
    ("{{replace('abc', '/B/gi', '[$&]')}}", r#""a[b]c""#),
    (r"{{replace('2024-05-06', '/(?<y>\d+)-(\d+)-(\d+)/', '$3.$2.$<y>')}}", r#""06.05.2024""#),
    (r"{{replace('a1', '/(\d)/', '$$$1')}}", r#""a$1""#),
    ("{{replace('price: $5', '$', 'USD')}}", r#""price: USD5""#),
    ("{{replace('a.b.c', '.', emptystring)}}", r#""abc""#),
    ("{{replace('aaa', '/a/g', '$1')}}", r#""$1$1$1""#),
    ("{{replace('x', '/(/', 'y')}}", "!not a regular expression"),
    ("{{replace('x', '/(?=x)/', 'y')}}", "!not a regular expression"),
    ("{{replace(parameters.missing, 'a', 'b')}}", "undefined"),
    ("{{replace('a/b', '/', '_')}}", r#""a_b""#),
    ("{{split('John, George, Paul', ',')}}", r#"["John","George","Paul"]"#),
    ("{{split('a,,b', ',')}}", r#"["a","b"]"#),
    ("{{split('a,,b', ',', true)}}", r#"["a","","b"]"#),
    ("{{split('read write', ' ')}}", r#"["read","write"]"#),
    ("{{split('abc', '')}}", r#"["a","b","c"]"#),
    ("{{startcase('hello WORLD')}}", r#""Hello World""#),
    ("{{stripHTML('<b>Hello</b>')}}", r#""Hello""#),
    ("{{stripHTML('a<br/>b<script>x()</script><style>p{}</style>')}}", r#""a\nb""#),
    ("{{substring('Hello', 0, 3)}}", r#""Hel""#),
    ("{{substring('Hello', 1, 3)}}", r#""el""#),
    ("{{substring('Hello', 3, 1)}}", r#""el""#),
    ("{{substring('Hello', 2)}}", r#""llo""#),
    ("{{substring('Hello', -2, 99)}}", r#""Hello""#),
    ("{{substring('čaues', 1, 3)}}", r#""au""#),
    ("{{toBinary('TWFrZQ==', 'base64')}}", r#""Make""#),
    ("{{toBinary('4d616b65', 'hex')}}", r#""Make""#),
    ("{{toBinary('Make')}}", r#""Make""#),
    ("{{toBinary('ff', 'hex')}}", "!not UTF-8"),
    ("{{toBinary('x', 'rot13')}}", "!not an encoding"),
    ("{{toString(12)}}", r#""12""#),
    ("{{toString(oauth.scope)}}", r#""read,write""#),
    ("{{toString(now)}}", r#""2025-01-01T00:00:00.000Z""#),
    ("{{toString(true)}}", r#""true""#),
    ("{{toString(null)}}", r#""""#),
    ("{{trim('  x  ')}}", r#""x""#),
    ("{{trim(nbsp + 'x' + newline)}}", r#""x""#),
    ("{{sha1('Make')}}", r#""a94431ee22f05f141107f9355ed3127d0f0c4d5a""#),
    ("{{sha1('abc')}}", r#""a9993e364706816aba3e25717850c26c9cd0d89d""#),
    ("{{sha256('Make')}}", r#""ccdd25d4230fb997a7ee1166f8afabd157248eb812ea55ec7c3d1b7c8af7fa11""#),
    ("{{sha256('Make', 'base64')}}", r#""zN0l1CMPuZen7hFm+K+r0VckjrgS6lXsfD0bfIr3+hE=""#),
    ("{{sha512('Make')}}", r#""e8000cd0fb8fae18caa8daa677269b0034380d3ec549e0113a0722d8b8dc05b0f7037f33f32fa09f906b2f1d7c43f2689a55d79aadf6bf09dd93f79407424d34""#),
    ("{{sha256('Make', 'hex', 'key')}}", r#""b84abf7f8352c0fda7f439bbf261951f1ed0ed5bb549b87dd5e92796735b624e""#),
    ("{{sha256('Make', 'hex', '6b6579', 'hex')}}", r#""b84abf7f8352c0fda7f439bbf261951f1ed0ed5bb549b87dd5e92796735b624e""#),
    ("{{sha256('Make', 'hex', 'a2V5', 'base64')}}", r#""b84abf7f8352c0fda7f439bbf261951f1ed0ed5bb549b87dd5e92796735b624e""#),
    ("{{sha256('Make', emptystring, 'key')}}", r#""b84abf7f8352c0fda7f439bbf261951f1ed0ed5bb549b87dd5e92796735b624e""#),
    ("{{sha1('Make', 'base64', 'key')}}", r#""C8En9mLTOu8OuyCOYvfhWWnN2dE=""#),
    ("{{substring(sha512('Make', 'hex', 'key'), 0, 20)}}", r#""a470106cba6d30eb2ab2""#),
    ("{{length(sha256('Make', 'latin1'))}}", "32"),
    ("{{sha256('')}}", r#""e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855""#),
    ("{{sha256('x', 'octal')}}", "!not an output encoding"),
    ("{{sha256(temp.verifier, 'base64url')}}", r#""E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM""#),
    ("{{sha256(parameters.missing)}}", "undefined"),
    // ---- JSON
    ("{{createJSON(parameters.scopes)}}", r#""[\"x\",\"y\"]""#),
    ("{{createJSON(pick(parameters, 'id'))}}", r#""{\"id\":7}""#),
    ("{{createJSON('a')}}", r#""\"a\"""#),
    ("{{createJSON(parameters.missing)}}", "undefined"),
    ("{{createJSON(now)}}", r#""\"2025-01-01T00:00:00.000Z\"""#),
    (r#"{{parseJSON('{"a":1}')}}"#, r#"{"a":1}"#),
    ("{{parseJSON('[1,2]')[2]}}", "2"),
    ("{{parseJSON('nope')}}", "!not valid JSON"),
    ("{{parseJSON(body.error).message}}", r#""bad""#),
    ("{{parseJSON(createJSON(body.items))[3].name}}", r#""c""#),
    // ---- arrays
    ("{{add(oauth.scope, 'offline')}}", r#"["read","write","offline"]"#),
    ("{{add(emptyarray, 1, 2)}}", "[1,2]"),
    ("{{add(parameters.missing, 1)}}", "[1]"),
    ("{{add('x', 1)}}", "!expected an array"),
    ("{{distinct(merge(oauth.scope, ifempty(parameters.scopes, emptyarray)))}}", r#"["read","write","x","y"]"#),
    ("{{distinct(merge(oauth.scope, ifempty(parameters.missing, emptyarray)))}}", r#"["read","write"]"#),
    ("{{distinct(merge(oauth.scope, oauth.scope))}}", r#"["read","write"]"#),
    ("{{deduplicate(split('1,2,2,3,1', ','))}}", r#"["1","2","3"]"#),
    ("{{map(distinct(body.items, 'type'), 'name')}}", r#"["b","a"]"#),
    ("{{length(distinct(merge(body.items, body.items)))}}", "3"),
    ("{{first(oauth.scope)}}", r#""read""#),
    ("{{last(oauth.scope)}}", r#""write""#),
    ("{{first(emptyarray)}}", "undefined"),
    ("{{last(parameters.missing)}}", "undefined"),
    ("{{flatten(parseJSON('[1,[2,[3,[4]]]]'))}}", "[1,2,[3,[4]]]"),
    ("{{flatten(parseJSON('[1,[2,[3,[4]]]]'), 2)}}", "[1,2,3,[4]]"),
    ("{{join(oauth.scope, ' ')}}", r#""read write""#),
    ("{{join(oauth.scope)}}", r#""read,write""#),
    ("{{join(parameters.missing, ' ')}}", "undefined"),
    ("{{join(temp.list, ', ')}}", r#""1, 2, 3""#),
    ("{{join(split('a b', ' '), emptystring)}}", r#""ab""#),
    ("{{keys(body.error)}}", r#"["message"]"#),
    ("{{keys(temp.list)}}", r#"["0","1","2"]"#),
    ("{{map(body.items, 'name')}}", r#"["b","a","c"]"#),
    ("{{map(body.items, 'name', 'type', 'x')}}", r#"["b","c"]"#),
    ("{{map(body.items, 'n', 'type', 'x,y')}}", "[2,1,3]"),
    ("{{map(body.items, 'nothing')}}", "[]"),
    ("{{merge(oauth.scope, parameters.scopes)}}", r#"["read","write","x","y"]"#),
    ("{{merge(oauth.scope, 'junk', parameters.missing)}}", r#"["read","write"]"#),
    ("{{merge(body.error, pick(parameters, 'id'))}}", r#"{"message":"bad","id":7}"#),
    ("{{remove(oauth.scope, 'read')}}", r#"["write"]"#),
    ("{{remove(temp.list, 1, 3)}}", "[2]"),
    ("{{reverse(temp.list)}}", "[3,2,1]"),
    ("{{reverse('abc')}}", "!expected an array"),
    ("{{length(shuffle(temp.list))}}", "3"),
    ("{{sum(shuffle(temp.list))}}", "6"),
    ("{{slice(temp.list, 1)}}", "[2,3]"),
    ("{{slice(temp.list, 0, 2)}}", "[1,2]"),
    ("{{slice(temp.list, -1)}}", "[3]"),
    ("{{slice(temp.list, 5)}}", "[]"),
    ("{{sort(split('b,c,a', ','))}}", r#"["a","b","c"]"#),
    ("{{sort(split('b,C,a', ','))}}", r#"["C","a","b"]"#),
    ("{{sort(split('b,C,a', ','), 'asc ci')}}", r#"["a","b","C"]"#),
    ("{{sort(split('b,C,a', ','), 'desc ci')}}", r#"["C","b","a"]"#),
    ("{{sort(temp.list, 'desc')}}", "[3,2,1]"),
    ("{{sort(parseJSON('[10,9,100]'))}}", "[9,10,100]"),
    ("{{map(sort(body.items, 'asc', 'name'), 'name')}}", r#"["a","b","c"]"#),
    ("{{map(sort(body.items, 'desc', 'n'), 'n')}}", "[3,2,1]"),
    ("{{sort(temp.list, 'up')}}", "!order must be"),
    ("{{toArray(body.error)}}", r#"[{"key":"message","value":"bad"}]"#),
    (r#"{{toCollection(parseJSON('[{"k":"a","v":1},{"k":"b","v":2}]'), 'k', 'v')}}"#, r#"{"a":1,"b":2}"#),
    ("{{toCollection(toArray(body.error), 'key', 'value')}}", r#"{"message":"bad"}"#),
    ("{{isArray(temp.list)}}", "true"),
    ("{{isArray(temp.obj)}}", "false"),
    // ---- dates (UTC)
    ("{{addDays('2016-12-08T15:55:57.536Z', 2)}}", r#""2016-12-10T15:55:57.536Z""#),
    ("{{addHours('2016-12-08T15:55:57.536Z', 2)}}", r#""2016-12-08T17:55:57.536Z""#),
    ("{{addMinutes('2016-12-08T15:55:57.536Z', 2)}}", r#""2016-12-08T15:57:57.536Z""#),
    ("{{addMonths('2016-08-08T15:55:57.536Z', 2)}}", r#""2016-10-08T15:55:57.536Z""#),
    ("{{addSeconds('2016-12-08T15:55:57.536Z', 2)}}", r#""2016-12-08T15:55:59.536Z""#),
    ("{{addYears('2016-08-08T15:55:57.536Z', 2)}}", r#""2018-08-08T15:55:57.536Z""#),
    ("{{addDays(now, -1)}}", r#""2024-12-31T00:00:00.000Z""#),
    ("{{addMonths('2024-01-31T00:00:00Z', 1)}}", r#""2024-02-29T00:00:00.000Z""#),
    ("{{addMonths(now, -13)}}", r#""2023-12-01T00:00:00.000Z""#),
    ("{{addYears('2024-02-29T00:00:00Z', 1)}}", r#""2025-02-28T00:00:00.000Z""#),
    ("{{addSeconds(now, body.expires_in)}}", r#""2025-01-01T01:00:00.000Z""#),
    ("{{addSeconds(now, '30')}}", r#""2025-01-01T00:00:30.000Z""#),
    ("{{addMinutes(now, ifempty(body.expires_in, get(body, 'expires-in')))}}", r#""2025-01-03T12:00:00.000Z""#),
    ("{{addMinutes(now, ifempty(body.missing, get(body, 'expires-in')))}}", r#""2025-01-01T01:00:00.000Z""#),
    ("{{addMinutes(now, parameters.missing)}}", "undefined"),
    ("{{addMinutes(parameters.missing, 1)}}", "undefined"),
    ("{{addMinutes('garbage', 1)}}", "!is not a date"),
    ("{{addHours(now, 1.5)}}", r#""2025-01-01T01:30:00.000Z""#),
    ("{{addDays(now, 1e12)}}", "!out of range"),
    ("{{addSeconds(1735689600000, 1)}}", r#""2025-01-01T00:00:01.000Z""#),
    ("{{setSecond('2015-10-07T11:36:39.138Z', 10)}}", r#""2015-10-07T11:36:10.138Z""#),
    ("{{setSecond('2015-10-07T11:36:39.138Z', 61)}}", r#""2015-10-07T11:37:01.138Z""#),
    ("{{setMinute('2015-10-07T11:36:39.138Z', 10)}}", r#""2015-10-07T11:10:39.138Z""#),
    ("{{setMinute('2015-10-07T11:36:39.138Z', 61)}}", r#""2015-10-07T12:01:39.138Z""#),
    ("{{setHour('2015-08-07T11:36:39.138Z', 6)}}", r#""2015-08-07T06:36:39.138Z""#),
    ("{{setHour('2015-08-07T11:36:39.138Z', -6)}}", r#""2015-08-06T18:36:39.138Z""#),
    ("{{setDate('2015-08-07T11:36:39.138Z', 5)}}", r#""2015-08-05T11:36:39.138Z""#),
    ("{{setDate('2015-08-07T11:36:39.138Z', 32)}}", r#""2015-09-01T11:36:39.138Z""#),
    ("{{setDate('2015-08-07T11:36:39.138Z', 0)}}", r#""2015-07-31T11:36:39.138Z""#),
    ("{{setDay('2018-06-27T11:36:39.138Z', 'Monday')}}", r#""2018-06-25T11:36:39.138Z""#),
    ("{{setDay('2018-06-27T11:36:39.138Z', 'fri')}}", r#""2018-06-29T11:36:39.138Z""#),
    ("{{setDay('2018-06-27T11:36:39.138Z', 1)}}", r#""2018-06-24T11:36:39.138Z""#),
    ("{{setDay('2018-06-27T11:36:39.138Z', 7)}}", r#""2018-06-30T11:36:39.138Z""#),
    ("{{setDay('2018-06-27T11:36:39.138Z', 8)}}", r#""2018-07-01T11:36:39.138Z""#),
    ("{{setMonth('2015-08-07T11:36:39.138Z', 5)}}", r#""2015-05-07T11:36:39.138Z""#),
    ("{{setMonth('2015-08-07T11:36:39.138Z', 'January')}}", r#""2015-01-07T11:36:39.138Z""#),
    ("{{setMonth('2015-08-07T11:36:39.138Z', 13)}}", r#""2016-01-07T11:36:39.138Z""#),
    ("{{setMonth('2015-01-31T00:00:00Z', 2)}}", r#""2015-02-28T00:00:00.000Z""#),
    ("{{setYear('2015-08-07T11:36:39.138Z', 2017)}}", r#""2017-08-07T11:36:39.138Z""#),
    ("{{setYear('2024-02-29T00:00:00Z', 2023)}}", r#""2023-02-28T00:00:00.000Z""#),
    ("{{setHour(now, 'x')}}", "!expected a number"),
    ("{{setYear(now, 1e9)}}", "!out of range"),
    ("{{setYear(now, 250000)}}", "!out of range"),
    ("{{formatDate(setYear(now, 199999), 'YYYY')}}", r#""199999""#),
    ("{{parseDate('8640000000000001', 'x')}}", "!out of range"),
    ("{{formatDate('2018-10-01T07:32:00Z', 'MM/DD/YYYY')}}", r#""10/01/2018""#),
    ("{{formatDate('2018-10-01T09:32:00Z', 'YYYY-MM-DD hh:mm A')}}", r#""2018-10-01 09:32 AM""#),
    ("{{formatDate('2018-10-01T07:32:00Z', 'DD.MM.YYYY HH:mm', 'UTC')}}", r#""01.10.2018 07:32""#),
    ("{{formatDate('2018-10-01T07:32:00Z', 'DD.MM.YYYY HH:mm', 'Europe/Prague')}}", r#""01.10.2018 09:32""#),
    ("{{formatDate(now)}}", r#""2025-01-01T00:00:00.000+00:00""#),
    ("{{formatDate(now, 'X')}}", r#""1735689600""#),
    ("{{formatDate(now, 'x')}}", r#""1735689600000""#),
    ("{{formatDate(now, 'dddd, MMMM Do YYYY')}}", r#""Wednesday, January 1st 2025""#),
    ("{{formatDate(now, 'ddd MMM D YY')}}", r#""Wed Jan 1 25""#),
    ("{{formatDate(now, '[Today is] dddd')}}", r#""Today is Wednesday""#),
    ("{{formatDate('2025-06-15T13:05:09.123Z', 'h:m:s a SSS')}}", r#""1:5:9 pm 123""#),
    ("{{formatDate('2025-06-15T13:05:09.123Z', 'Q DDDD W E d')}}", r#""2 166 24 7 0""#),
    ("{{formatDate('2025-06-15T13:05:09.123Z', 'Z ZZ', 'America/New_York')}}", r#""-04:00 -0400""#),
    ("{{formatDate('2025-01-15T13:05:09Z', 'z', 'Europe/Prague')}}", r#""CET""#),
    ("{{formatDate('2025-06-15T13:05:09Z', 'LLLL')}}", r#""Sunday, June 15, 2025 1:05 PM""#),
    ("{{formatDate('2025-06-15T00:05:09Z', 'hh kk')}}", r#""12 24""#),
    ("{{formatDate(parameters.missing, 'YYYY')}}", "undefined"),
    ("{{formatDate(now, 'YYYY', 'Mars/Base')}}", "!not a time zone"),
    ("{{formatDate(1735689600000, 'YYYY-MM-DD')}}", r#""2025-01-01""#),
    ("{{formatDate(data.expires, 'HH:mm:ss')}}", r#""00:00:30""#),
    ("{{parseDate('2016-12-28', 'YYYY-MM-DD')}}", r#""2016-12-28T00:00:00.000Z""#),
    ("{{parseDate('2016-12-28 16:03', 'YYYY-MM-DD HH:mm')}}", r#""2016-12-28T16:03:00.000Z""#),
    ("{{parseDate('10/28/2016 16:03', 'MM/DD/YYYY HH:mm')}}", r#""2016-10-28T16:03:00.000Z""#),
    ("{{parseDate('28.10.2016 16:03', 'DD.MM.YYYY HH:mm')}}", r#""2016-10-28T16:03:00.000Z""#),
    ("{{parseDate('1445472000', 'X')}}", r#""2015-10-22T00:00:00.000Z""#),
    ("{{parseDate(body.result.validUntil, 'X')}}", r#""2025-01-01T00:00:00.000Z""#),
    ("{{parseDate('1735689600.5', 'X')}}", r#""2025-01-01T00:00:00.500Z""#),
    ("{{parseDate('1735689600123', 'x')}}", r#""2025-01-01T00:00:00.123Z""#),
    ("{{parseDate('2016-12-28 16:03', 'YYYY-MM-DD HH:mm', 'Europe/Prague')}}", r#""2016-12-28T15:03:00.000Z""#),
    ("{{parseDate('2016-12-28T16:03:00+02:00', 'YYYY-MM-DDTHH:mm:ssZ')}}", r#""2016-12-28T14:03:00.000Z""#),
    ("{{parseDate('March 5, 2024 4:30 PM', 'MMMM D, YYYY h:mm A')}}", r#""2024-03-05T16:30:00.000Z""#),
    ("{{parseDate('5 Mar 24', 'D MMM YY')}}", r#""2024-03-05T00:00:00.000Z""#),
    ("{{parseDate('2024-01-01 10:00:00.5', 'YYYY-MM-DD HH:mm:ss.S')}}", r#""2024-01-01T10:00:00.500Z""#),
    ("{{parseDate('12:30', 'HH:mm')}}", r#""2025-01-01T12:30:00.000Z""#),
    ("{{parseDate('2016-12-28T16:03:00Z')}}", r#""2016-12-28T16:03:00.000Z""#),
    ("{{parseDate('Tue, 1 Jul 2003 10:52:37 +0200')}}", r#""2003-07-01T08:52:37.000Z""#),
    ("{{parseDate('02-30-2024', 'MM-DD-YYYY')}}", "!not a valid date"),
    ("{{parseDate('hello', 'YYYY')}}", "!does not match"),
    ("{{parseDate('hello')}}", "!not an ISO 8601"),
    ("{{parseDate(parameters.missing, 'X')}}", "undefined"),
    ("{{dateDiff('2025-01-03T03:45:00Z', now, 'D')}}", "2"),
    ("{{dateDiff('2025-01-03T03:45:00Z', now, 'H')}}", "51"),
    ("{{dateDiff('2025-01-03T03:45:00Z', now, 'm')}}", "3105"),
    ("{{dateDiff('2025-01-03T03:45:00Z', now, 's')}}", "186300"),
    ("{{dateDiff('2025-01-03T03:45:00Z', now, 'RH')}}", "3"),
    ("{{dateDiff('2025-01-03T03:45:00Z', now, 'Rm')}}", "45"),
    ("{{dateDiff('2025-01-03T03:45:00Z', now, 'Rs')}}", "0"),
    ("{{dateDiff(now, '2025-01-03T03:45:00Z', 'D')}}", "!after the end"),
    // ---- math
    ("{{abs(-3)}}", "3"),
    ("{{abs(parameters.missing)}}", "undefined"),
    ("{{ceil(1.2)}}", "2"),
    ("{{floor(1.8)}}", "1"),
    ("{{round(1.5)}}", "2"),
    ("{{round(-1.5)}}", "-1"),
    ("{{round(1.2)}}", "1"),
    ("{{trunc(1.9)}}", "1"),
    ("{{trunc(-3.6)}}", "-3"),
    ("{{trunc(3.14159, 2)}}", "3.14"),
    ("{{trunc(123, -2)}}", "100"),
    ("{{average(1, 2, 3)}}", "2"),
    ("{{average(temp.list)}}", "2"),
    ("{{max(1; 5; 3)}}", "5"),
    ("{{min(temp.list)}}", "1"),
    ("{{max(emptyarray)}}", "undefined"),
    ("{{median(1, 2, 3, 4)}}", "2.5"),
    ("{{median(3, 1, 2)}}", "2"),
    ("{{sum(1, 2, 3)}}", "6"),
    ("{{sum(temp.list, '4', 'x')}}", "10"),
    ("{{sum(emptyarray)}}", "0"),
    ("{{stdevP(2, 4, 4, 4, 5, 5, 7, 9)}}", "2"),
    ("{{stdevS(2, 4)}}", "1.4142135623730951"),
    ("{{formatNumber(123456789, 3, ',', '.')}}", r#""123.456.789,000""#),
    ("{{formatNumber(1234.5678, 2)}}", r#""1.234,57""#),
    ("{{formatNumber(1234.5678, 2, '.', ',')}}", r#""1,234.57""#),
    ("{{formatNumber(0.5, 0)}}", r#""1""#),
    ("{{formatNumber(-1234.5, 0, '.', ' ')}}", r#""-1 235""#),
    ("{{formatNumber(1.005, 2, '.', ',')}}", r#""1.00""#),
    ("{{formatNumber(999.999, 2, '.', ',')}}", r#""1,000.00""#),
    ("{{formatNumber(1, 101)}}", "!from 0 to 100"),
    ("{{parseNumber('1 756,456', ',')}}", "1756.456"),
    ("{{parseNumber('1,234.5')}}", "1234.5"),
    ("{{parseNumber('-12')}}", "-12"),
    ("{{parseNumber('abc')}}", "!is not a number"),
    // ---- parse errors
    ("{{nope(1)}}", "!Unknown function 'nope'"),
    ("{{if(1)}}", "!if() takes 2 to 3 arguments, not 1"),
    ("{{ifempty(1, 2, 3)}}", "!ifempty() takes 2 arguments, not 3"),
    ("{{add()}}", "!add() takes at least 1 argument, not 0"),
    ("{{1 +}}", "!Expected an expression"),
    ("{{'abc}}", "!closing"),
    ("{{(1}}", "!')'"),
    ("{{a b}}", "!an operator or '}}'"),
    ("{{}}", "!Expected"),
    ("{{1", "!'}}'"),
    ("{{temp.}}", "!a key after '.'"),
    ("{{temp.list[1}}", "!']'"),
    ("{{join(temp.list,)}}", "!an argument"),
    ("{{join(temp.list ' ')}}", "!',' or ')'"),
];

fn expected_of(spec: &str) -> Result<Option<serde_json::Value>, String> {
    if let Some(msg) = spec.strip_prefix('!') {
        return Err(msg.to_owned());
    }
    if spec == "undefined" {
        return Ok(None);
    }
    Ok(Some(serde_json::from_str(spec).unwrap_or_else(|e| panic!("bad expected JSON {spec:?}: {e}"))))
}

#[test]
fn the_table() {
    let mut failures = Vec::new();
    for (template, spec) in CASES {
        let got = run(template);
        let ok = match (expected_of(spec), &got) {
            (Err(msg), Err(e)) => e.message.contains(&msg),
            (Ok(None), Ok(v)) => *v == Value::Undefined,
            (Ok(Some(json)), Ok(v)) => v.to_json().as_ref() == Some(&json),
            _ => false,
        };
        if !ok {
            failures.push(format!("{template}\n    expected {spec}\n    got      {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), CASES.len(), failures.join("\n"));
    assert!(CASES.len() >= 200, "the table has {} cases", CASES.len());
}

#[test]
fn every_function_appears_in_the_table() {
    let missing: Vec<&str> = function_names().filter(|name| !CASES.iter().any(|(t, _)| t.contains(&format!("{name}(")))).collect();
    assert!(missing.is_empty(), "functions without a case: {missing:?}");
}

// ---------------------------------------------------------------------------
// Types kept or joined

#[test]
fn a_lone_expression_keeps_its_type_and_mixed_text_is_a_string() {
    assert!(matches!(run("{{omit(parameters, 'id')}}").unwrap(), Value::Object(_)));
    assert_eq!(run("{{1 + 2}}").unwrap(), Value::Number(3.0));
    assert_eq!(run("a{{1}}b").unwrap(), Value::String("a1b".into()));
    assert!(matches!(run("{{addMinutes(now, 1)}}").unwrap(), Value::Date(_)));
    assert_eq!(run("{{parameters.missing}}").unwrap(), Value::Undefined);
    assert_eq!(run(" {{1}}").unwrap(), Value::String(" 1".into()));
    assert!(Template::parse("no braces here").unwrap().is_literal());
    assert!(!Template::parse("{{1}}").unwrap().is_literal());
}

#[test]
fn pkce_challenge_by_the_replace_chain_matches_rfc_7636_appendix_b() {
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let idiom = "{{replace(replace(replace(sha256(temp.verifier, 'base64'), '+', '-'), '/', '_'), '=', emptystring)}}";
    assert_eq!(run(idiom).unwrap(), Value::String(challenge.into()));
    assert!(run("{{base64url(toBinary(sha256(temp.verifier), 'hex'))}}").is_err(), "binary values are not text");
    assert_eq!(run("{{sha256(temp.verifier, 'base64url')}}").unwrap(), Value::String(challenge.into()));
}

#[test]
fn the_refresh_condition_reads_a_stored_iso_string_as_a_date() {
    // What `token` stored: a Date, kept in the connection as JSON (an ISO
    // string), read back by `refresh.condition`.
    let stored = run("{{addMinutes(now, ifempty(body.expires_in, get(body, 'expires-in')))}}").unwrap().to_json().unwrap();
    assert_eq!(stored, json!("2025-01-03T12:00:00.000Z"));
    let mut vars = fixture();
    vars.insert("data".into(), Value::from_json(&json!({ "expires": stored })));
    let condition = Template::parse("{{data.expires < addMinutes(now, 1)}}").unwrap();
    let at = |t: DateTime<Utc>| condition.eval(&Context::new(&vars, t)).unwrap();
    assert_eq!(at(now()), Value::Bool(false));
    assert_eq!(at(Utc.with_ymd_and_hms(2025, 1, 3, 11, 59, 0).unwrap() + chrono::TimeDelta::milliseconds(1)), Value::Bool(true));
    assert_eq!(at(Utc.with_ymd_and_hms(2025, 1, 3, 11, 58, 59).unwrap()), Value::Bool(false));
}

// ---------------------------------------------------------------------------
// Time zones and DST

#[test]
fn calendar_arithmetic_keeps_the_wall_clock_across_dst_in_the_context_zone() {
    let prague = chrono_tz::Europe::Prague;
    let start = "parseDate('2024-03-30 12:00', 'YYYY-MM-DD HH:mm')";
    // Spring forward (02:00 → 03:00 on 31 March): a day is 23 hours.
    assert_eq!(run_in(&format!("{{{{addDays({start}, 1)}}}}"), prague).unwrap().to_json().unwrap(), json!("2024-03-31T10:00:00.000Z"));
    assert_eq!(
        run_in(&format!("{{{{formatDate(addDays({start}, 1), 'YYYY-MM-DD HH:mm')}}}}"), prague).unwrap(),
        Value::String("2024-03-31 12:00".into())
    );
    // 24 hours is a duration: 13:00 on the far side.
    assert_eq!(
        run_in(&format!("{{{{formatDate(addHours({start}, 24), 'YYYY-MM-DD HH:mm Z')}}}}"), prague).unwrap(),
        Value::String("2024-03-31 13:00 +02:00".into())
    );
    // Fall back (03:00 → 02:00 on 27 October): a day is 25 hours.
    assert_eq!(
        run_in("{{addDays(parseDate('2024-10-26 12:00', 'YYYY-MM-DD HH:mm'), 1)}}", prague).unwrap().to_json().unwrap(),
        json!("2024-10-27T11:00:00.000Z")
    );
    // A wall-clock time inside the gap moves on by the gap.
    assert_eq!(
        run_in("{{parseDate('2024-03-31 02:30', 'YYYY-MM-DD HH:mm')}}", prague).unwrap().to_json().unwrap(),
        json!("2024-03-31T01:30:00.000Z")
    );
    // In UTC the same day is 24 hours.
    assert_eq!(run(&format!("{{{{addDays({start}, 1)}}}}")).unwrap().to_json().unwrap(), json!("2024-03-31T12:00:00.000Z"));
    // Setters count in the zone too.
    assert_eq!(
        run_in("{{formatDate(setHour(parseDate('2024-03-30 12:00', 'YYYY-MM-DD HH:mm'), 36), 'YYYY-MM-DD HH:mm')}}", prague).unwrap(),
        Value::String("2024-03-31 12:00".into())
    );
    // addMonths across DST keeps 12:00 local.
    assert_eq!(
        run_in("{{formatDate(addMonths(parseDate('2024-02-15 12:00', 'YYYY-MM-DD HH:mm'), 2), 'MM-DD HH:mm Z')}}", prague).unwrap(),
        Value::String("04-15 12:00 +02:00".into())
    );
}

// ---------------------------------------------------------------------------
// Positions

#[test]
fn an_unknown_function_is_reported_where_its_name_starts() {
    let text = "ab {{ upper(temp.code) + nope(1) }}";
    let e = Template::parse(text).unwrap_err();
    assert_eq!(e.position, text.find("nope").unwrap());
    assert_eq!(e.message, "Unknown function 'nope'.");
    let text = "x{{formatDate(now, 'YYYY', 'UTC', 4)}}";
    let e = Template::parse(text).unwrap_err();
    assert_eq!(e.position, text.find("formatDate").unwrap());
    assert_eq!(e.message, "formatDate() takes 1 to 3 arguments, not 4.");
}

#[test]
fn syntax_errors_point_at_the_offending_byte() {
    let cases = [("{{1 +}}", 5), ("{{(1}}", 4), ("{{a b}}", 4), ("x {{'abc}}", 10), ("{{1", 3), ("{{temp.list[1}}", 13)];
    for (text, pos) in cases {
        let e = Template::parse(text).unwrap_err();
        assert_eq!(e.position, pos, "{text}: {e}");
    }
    // Run-time errors point at the call.
    let text = "{{ 1 + parseJSON('x') }}";
    assert_eq!(run(text).unwrap_err().position, text.find("parseJSON").unwrap());
}

#[test]
fn roots_lists_the_variables_read() {
    let t = Template::parse("{{temp.a + body.b[parameters.i]}} {{now}} {{if(data.x, connection.y, uuid)}} {{temp.z}}").unwrap();
    assert_eq!(t.roots(), ["temp", "body", "parameters", "data", "connection"]);
    assert!(Template::parse("{{now}}{{emptyarray}}").unwrap().roots().is_empty());
    assert!(Template::parse("literal").unwrap().roots().is_empty());
}

// ---------------------------------------------------------------------------
// JSON trees

/// Example 1 of MAKE-SPEC-NOTES.md §7: App Academy v2's communication.
pub(crate) fn app_academy_spec() -> serde_json::Value {
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

#[test]
fn the_app_academy_token_data_block_evaluates_and_drops_what_is_missing() {
    let spec = app_academy_spec();
    let vars = fixture();
    let ctx = Context::new(&vars, now());
    let data = eval_json(&spec["token"]["response"]["data"], &ctx).unwrap();
    // body has no refresh_token: the key drops out.
    assert_eq!(data.to_json().unwrap(), json!({"accessToken": "A", "expires": "2025-01-03T12:00:00.000Z"}));
    let Value::Object(map) = &data else { panic!() };
    assert!(matches!(map["expires"], Value::Date(_)), "a lone expression keeps the date");
    assert_eq!(map.get("refreshToken"), None);
    let qs = eval_json(&spec["authorize"]["qs"], &ctx).unwrap().to_json().unwrap();
    assert_eq!(qs["scope"], json!("read write"));
    let error = eval_json(&spec["token"]["response"]["error"], &ctx).unwrap().to_json().unwrap();
    assert_eq!(error, json!({"message": "[200] bad"}));
    assert!(check_json(&spec).is_empty());
}

#[test]
fn eval_json_spreads_keys_templates_keys_and_drops_undefined() {
    let vars = fixture();
    let ctx = Context::new(&vars, now());
    let tree = json!({
        "a": 1,
        "{{...}}": "{{pick(parameters, 'name', 'tenant')}}",
        "{{\u{2026}}}": "{{pick(parameters, 'email')}}",
        "gone": "{{parameters.missing}}",
        "kept": null,
        "{{parameters.name}}": "dynamic key",
        "{{temp.obj}}": "ignored: the key's object is spread",
        "{{parameters.missing}}": "a key that evaluates to undefined drops",
        "list": ["{{parameters.missing}}", "{{1}}", "x{{parameters.missing}}"],
        "nested": {"deep": ["{{temp.list}}"]}
    });
    let out = eval_json(&tree, &ctx).unwrap();
    assert_eq!(
        out.to_json().unwrap(),
        json!({
            "a": 1, "name": "Ann", "tenant": "acme", "email": "ann@example.com", "kept": null, "Ann": "dynamic key",
            "list": [1, "x"], "nested": {"deep": [[1, 2, 3]]}
        })
    );
    // Insertion order: the spread keys sit where the spread key was.
    let Value::Object(map) = out else { panic!() };
    let keys: Vec<&str> = map.keys().map(String::as_str).collect();
    // (serde_json keeps the spec's order: its preserve_order feature is on.)
    assert_eq!(keys, ["a", "name", "tenant", "email", "kept", "Ann", "list", "nested"]);
    // Spreading a non-object is an error with the path.
    let e = eval_json(&json!({"body": {"{{...}}": "{{temp.list}}"}}), &ctx).unwrap_err();
    assert!(e.message.starts_with("body.{{...}}: "), "{e}");
    // Undefined inside values drops when turned into JSON.
    let v = Value::Array(vec![Value::Undefined, Value::Object(Map::from_iter([("u".to_owned(), Value::Undefined)]))]);
    assert_eq!(v.to_json().unwrap(), json!([{}]));
}

#[test]
fn eval_json_errors_carry_the_json_path() {
    let vars = fixture();
    let ctx = Context::new(&vars, now());
    let tree = json!({"token": {"response": {"data": {"expires": "{{addMinutes('soon', 1)}}"}}}});
    let e = eval_json(&tree, &ctx).unwrap_err();
    assert!(e.message.starts_with("token.response.data.expires: addMinutes(): 'soon' is not a date"), "{e}");
    assert_eq!(e.position, 2);
    let e = eval_json(&json!({"a": [{"b": "{{1 +}}"}]}), &ctx).unwrap_err();
    assert!(e.message.starts_with("a[0].b: Expected an expression"), "{e}");
}

#[test]
fn check_json_lists_every_bad_template_with_its_path_and_position() {
    let tree = json!({
        "preauthorize": [{"url": "https://x/{{1 +}}"}, {"url": "{{parameters.tenant}}"}],
        "token": {"response": {"data": {"expires": "{{addMinutes(now, nope(1))}}"}}},
        "{{bad key(}}": 1,
        "fine": ["{{join(oauth.scope; ' ')}}", 3, true, null],
        "{{...}}": "{{pick(parameters, 'a')}}"
    });
    let found = check_json(&tree);
    let summary: Vec<(String, usize)> = found.iter().map(|(p, e)| (p.clone(), e.position)).collect();
    assert_eq!(
        summary,
        [("preauthorize[0].url".to_owned(), 15), ("token.response.data.expires".to_owned(), 18), ("{{bad key(}}".to_owned(), 6)]
    );
    assert!(found[1].1.message.contains("Unknown function 'nope'"));
    assert!(found[2].1.message.starts_with("In the key: "));
}

// ---------------------------------------------------------------------------
// Limits

fn tight() -> Limits {
    Limits::default()
}

#[test]
fn max_depth_bounds_nesting_in_expressions_json_and_parsed_json() {
    let limits = Limits { max_depth: 3, ..tight() };
    assert_eq!(run_with("{{abs(abs(1))}}", limits).unwrap(), Value::Number(1.0));
    let e = run_with("{{abs(abs(abs(abs(1))))}}", limits).unwrap_err();
    assert!(e.message.contains("Limits::max_depth"), "{e}");
    let e = run_with("{{parseJSON('[[[[1]]]]')}}", limits).unwrap_err();
    assert!(e.message.contains("Limits::max_depth"), "{e}");
    let vars = fixture();
    let mut ctx = Context::new(&vars, now());
    ctx.limits = limits;
    let e = eval_json(&json!({"a": {"b": {"c": {"d": {"e": 1}}}}}), &ctx).unwrap_err();
    assert!(e.message.contains("Limits::max_depth"), "{e}");
    // The parser has its own bound, whatever the limits.
    let deep = format!("{{{{{}1{}}}}}", "(".repeat(200), ")".repeat(200));
    let e = Template::parse(&deep).unwrap_err();
    assert!(e.message.contains("nests deeper than"), "{e}");
    let deep_calls = format!("{{{{{}1{}}}}}", "abs(".repeat(200), ")".repeat(200));
    assert!(Template::parse(&deep_calls).is_err());
    // A long flat chain is not deep.
    let long = format!("{{{{{}1}}}}", "1 + ".repeat(5000));
    assert_eq!(run(&long).unwrap(), Value::Number(5001.0));
    let bangs = format!("{{{{{}true}}}}", "!".repeat(5000));
    assert_eq!(run(&bangs).unwrap(), Value::Bool(true));
}

#[test]
fn max_string_bytes_bounds_every_way_of_growing_a_string() {
    let limits = Limits { max_string_bytes: 5, ..tight() };
    for t in [
        "{{temp.code + temp.code}}",
        "{{join(split('a,b,c,d,e,f', ','), '-')}}",
        "{{replace('aaa', '/a/g', '$&$&')}}",
        "{{replace('aaa', 'a', 'bb')}}",
        "x{{temp.code}}{{temp.code}}",
        "{{createJSON(oauth.scope)}}",
        "{{upper(temp.verifier)}}",
    ] {
        let e = run_with(t, limits).unwrap_err();
        assert!(e.message.contains("Limits::max_string_bytes"), "{t}: {e}");
    }
    assert_eq!(run_with("{{temp.code + 'de'}}", limits).unwrap(), Value::String("abcde".into()));
}

#[test]
fn max_array_len_bounds_every_way_of_growing_an_array() {
    let limits = Limits { max_array_len: 3, ..tight() };
    for t in [
        "{{split('a,b,c,d', ',')}}",
        "{{add(temp.list, 4)}}",
        "{{merge(temp.list, temp.list)}}",
        "{{flatten(parseJSON('[[1,2],[3,4]]'))}}",
        "{{parseJSON('[1,2,3,4]')}}",
    ] {
        let e = run_with(t, limits).unwrap_err();
        assert!(e.message.contains("Limits::max_array_len"), "{t}: {e}");
    }
    assert_eq!(run_with("{{add(emptyarray, 1, 2, 3)}}", limits).unwrap().to_json().unwrap(), json!([1, 2, 3]));
}

#[test]
fn max_steps_bounds_the_work_of_one_evaluation_or_one_tree() {
    let limits = Limits { max_steps: 50, ..tight() };
    let long = format!("{{{{{}1}}}}", "1 + ".repeat(100));
    let e = run_with(&long, limits).unwrap_err();
    assert!(e.message.contains("Limits::max_steps"), "{e}");
    // Copying a large value costs in proportion to its size.
    let mut vars = fixture();
    vars.insert("big".into(), Value::String("x".repeat(64 * 100)));
    let mut ctx = Context::new(&vars, now());
    ctx.limits = limits;
    assert!(Template::parse("{{big}}").unwrap().eval(&ctx).unwrap_err().message.contains("Limits::max_steps"));
    // One budget for a whole tree.
    let tree = serde_json::Value::Array(vec![json!("{{1 + 1 + 1}}"); 40]);
    assert!(eval_json(&tree, &ctx).unwrap_err().message.contains("Limits::max_steps"));
    assert!(eval_json(&serde_json::Value::Array(vec![json!("{{1}}"); 10]), &ctx).is_ok());
}

#[test]
fn huge_inputs_are_refused_before_they_are_built() {
    let mut vars = fixture();
    vars.insert("big".into(), Value::String(",".repeat(200_000)));
    let ctx = Context::new(&vars, now());
    let e = Template::parse("{{split(big, ',', true)}}").unwrap().eval(&ctx).unwrap_err();
    assert!(e.message.contains("Limits::max_array_len"), "{e}");
    let mut deep = json!("{{1}}");
    for _ in 0..200 {
        deep = json!([deep]);
    }
    let found = check_json(&deep);
    assert_eq!(found.len(), 1);
    assert!(found[0].1.message.contains("nests deeper"));
}

#[test]
fn limits_have_sane_defaults() {
    let l = Limits::default();
    assert!(l.max_depth >= MAX_PARSE_DEPTH && l.max_depth <= 256);
    assert!(l.max_string_bytes >= 1 << 20);
    assert!(l.max_steps >= 100_000);
    assert!(l.max_array_len >= 10_000);
}

// ---------------------------------------------------------------------------
// Values

#[test]
fn values_convert_to_and_from_json() {
    let j = json!({"a": [1, 2.5, "x", null, true], "b": {"c": -3}});
    assert_eq!(Value::from_json(&j).to_json().unwrap(), j);
    assert_eq!(Value::Undefined.to_json(), None);
    let d = Utc.with_ymd_and_hms(2025, 3, 4, 5, 6, 7).unwrap() + chrono::TimeDelta::milliseconds(89);
    assert_eq!(Value::Date(d).to_json().unwrap(), json!("2025-03-04T05:06:07.089Z"));
    assert_eq!(Value::Number(f64::NAN).to_json().unwrap(), json!(null));
    assert_eq!(Value::Number(3.0).to_json().unwrap().to_string(), "3");
    assert_eq!(Value::Number(1e300).to_json().unwrap(), json!(1e300));
}

#[test]
fn truthiness_emptiness_and_dates() {
    for v in [Value::Undefined, Value::Null, Value::Bool(false), Value::Number(0.0), Value::Number(f64::NAN), Value::String(String::new())]
    {
        assert!(!v.truthy(), "{v:?}");
    }
    for v in [Value::Array(vec![]), Value::Object(Map::new()), Value::String("0".into()), Value::Number(-1.0), Value::Date(now())] {
        assert!(v.truthy(), "{v:?}");
    }
    assert!(Value::Undefined.is_empty() && Value::Null.is_empty() && Value::String(String::new()).is_empty());
    assert!(!Value::Array(vec![]).is_empty() && !Value::Number(0.0).is_empty() && !Value::String(" ".into()).is_empty());
    assert_eq!(Value::from("2025-01-01T00:00:00Z").as_date(), Some(now()));
    assert_eq!(Value::from("2025-01-01T01:00:00+01:00").as_date(), Some(now()));
    assert_eq!(Value::from("2025-01-01").as_date(), Some(now()));
    assert_eq!(Value::from("2025-01-01 00:00:00.000").as_date(), Some(now()));
    assert_eq!(Value::from("20250101").as_date(), None);
    assert_eq!(Value::from("tomorrow").as_date(), None);
    assert_eq!(Value::Number(0.0).as_date(), None);
}

#[test]
fn display_follows_javascript() {
    let cases = [
        (Value::Number(3.0), "3"),
        (Value::Number(-2.5), "-2.5"),
        (Value::Number(1e21), "1e+21"),
        (Value::Number(123456789012345680000.0), "123456789012345680000"),
        (Value::Number(1.5e-7), "1.5e-7"),
        (Value::Number(f64::INFINITY), "Infinity"),
        (Value::Number(f64::NAN), "NaN"),
        (Value::Bool(true), "true"),
        (Value::Null, ""),
        (Value::Undefined, ""),
        (Value::Array(vec![Value::Number(1.0), Value::Null, Value::from("a")]), "1,,a"),
        (Value::Object(Map::from_iter([("k".to_owned(), Value::Number(1.0))])), r#"{"k":1}"#),
        (Value::Date(now()), "2025-01-01T00:00:00.000Z"),
    ];
    for (v, s) in cases {
        assert_eq!(v.display(), s, "{v:?}");
    }
}

#[test]
fn uuid_is_a_fresh_version_4_uuid() {
    let a = run("{{uuid}}").unwrap().display();
    let b = run("{{uuid}}").unwrap().display();
    assert_ne!(a, b);
    let re = regex::Regex::new("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$").unwrap();
    assert!(re.is_match(&a), "{a}");
}

#[test]
fn the_notes_examples_parse_cleanly() {
    let preauthorize = json!({
      "preauthorize": [
        { "url": "https://{{parameters.tenant}}.example.com/.well-known/oauth",
          "headers": { "x-api-key": "{{parameters.apiKey}}" },
          "response": { "type": "json", "temp": { "authUrl": "{{body.authorization_endpoint}}", "tokenUrl": "{{body.token_endpoint}}" } } },
        { "url": "https://{{parameters.tenant}}.example.com/pkce", "method": "POST", "body": {},
          "response": { "temp": { "verifier": "{{body.verifier}}", "challenge": "{{body.challenge}}" } } }
      ],
      "token": {
        "headers": { "authorization": "Basic {{base64(common.clientId + ':' + common.clientSecret)}}" },
        "response": {
          "valid": { "condition": "{{body.result.token}}", "message": "Token missing in response" },
          "data": { "expires": "{{parseDate(body.result.validUntil, 'X')}}" },
          "expires": "{{addDays(now, 90)}}",
          "error": { "message": "[{{statusCode}}] {{body}}" }
        }
      },
      "refresh": { "condition": "{{data.expires < addMinutes(now, 10)}}" },
      "scopes": "{{distinct(merge(oauth.scope, ifempty(parameters.scopes, emptyarray)))}}",
      "guard": "{{if(data.accessToken, data.expires < addMinutes(now,1), true)}}",
      "pkce": "{{uuid}}",
      "code": "{{query.code}}"
    });
    assert!(check_json(&preauthorize).is_empty(), "{:?}", check_json(&preauthorize));
    let vars = fixture();
    let ctx = Context::new(&vars, now());
    let out = eval_json(&preauthorize["token"], &ctx).unwrap().to_json().unwrap();
    assert_eq!(out["headers"]["authorization"], json!("Basic Y2lkOnNlY3JldA=="));
    assert_eq!(out["response"]["data"]["expires"], json!("2025-01-01T00:00:00.000Z"));
    assert_eq!(out["response"]["expires"], json!("2025-04-01T00:00:00.000Z"));
}

// ---------------------------------------------------------------------------
// No input panics

mod no_panics {
    use proptest::prelude::*;

    use super::*;

    #[rustfmt::skip]
    const TOKENS: &[&str] = &[
        "(", ")", ",", ";", "[", "]", "[]", ".", "+", "-", "*", "/", "%", "<", "<=", ">", ">=", "=", "==", "!=", "&&", "||", "&", "|", "!",
        "'a'", "'/a+/g'", "'/(/'", "''", "\"x\"", "1", "0", "-1", "1e308", "1e-320", "0.5", "999999999999", "now", "uuid", "timestamp",
        "random", "pi", "emptyarray", "emptystring", "newline", "null", "true", "temp", "temp.list", "temp.list[1]", "body.items", "body",
        "parameters", "temp.verifier", "data.expires", "`x`", "'YYYY-MM-DD X x Z'", "'Europe/Prague'", "'base64'", "'hex'", "'key'",
        "'asc ci'", "'[1,[2,[3]]]'", "'{\"a\":1}'", "'2024-03-31 02:30'", "'desc'", "'D'", "'monday'", "'1e9'", "1e9", "-1e9", "262142", "199999", "8.64e15",
        "'w gggg LLLL'", "'/(a)|b/g'", "'$1$&$<x>'",
    ];

    fn template() -> impl Strategy<Value = String> {
        let names: Vec<String> = function_names().map(|n| format!("{n}(")).collect();
        let token = prop_oneof![
            3 => proptest::sample::select(TOKENS).prop_map(str::to_owned),
            1 => proptest::sample::select(names),
        ];
        proptest::collection::vec(token, 0..24).prop_map(|tokens| format!("{{{{{}}}}}", tokens.join(" ")))
    }

    fn small() -> Limits {
        Limits { max_depth: 32, max_string_bytes: 1 << 16, max_steps: 20_000, max_array_len: 1_000 }
    }

    proptest! {
        // PROPTEST_CASES=100000 for a longer hunt.
        #![proptest_config(ProptestConfig {
            cases: std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(3000),
            ..ProptestConfig::default()
        })]

        #[test]
        fn arbitrary_text_parses_or_errors_and_evaluates_or_errors(text in "\\PC{0,64}") {
            let vars = fixture();
            let mut ctx = Context::new(&vars, now());
            ctx.limits = small();
            if let Ok(t) = Template::parse(&text) {
                let _ = t.eval(&ctx);
            }
        }

        #[test]
        fn token_soup_parses_or_errors_and_evaluates_or_errors(text in template()) {
            let vars = fixture();
            let mut ctx = Context::new(&vars, now());
            ctx.limits = small();
            ctx.timezone = chrono_tz::Europe::Prague;
            if let Ok(t) = Template::parse(&text) {
                let _ = t.eval(&ctx);
                let _ = t.roots();
            }
        }

        #[test]
        fn valid_calls_with_odd_arguments_evaluate_or_error(
            name in proptest::sample::select(function_names().collect::<Vec<_>>()),
            args in proptest::collection::vec(proptest::sample::select(TOKENS[25..].to_vec()), 0..5),
        ) {
            let text = format!("{{{{{name}({})}}}}", args.join(", "));
            let vars = fixture();
            let mut ctx = Context::new(&vars, now());
            ctx.limits = small();
            if let Ok(t) = Template::parse(&text) {
                let _ = t.eval(&ctx);
            }
        }
    }
}

/// The parser's nesting bound keeps parsing and evaluation well inside a
/// thread's stack (2 MiB for tokio's workers and test threads): the
/// deepest template allowed needs about 600 KiB in a debug build (winnow's
/// combinators are not inlined there), far less in release.
#[test]
fn the_deepest_template_allowed_fits_in_one_mebibyte_of_stack() {
    std::thread::Builder::new()
        .stack_size(1024 * 1024)
        .spawn(|| {
            let n = MAX_PARSE_DEPTH - 1;
            let vars = fixture();
            let ctx = Context::new(&vars, now());
            for (open, close) in [("abs(", ")"), ("(", ")"), ("temp.list[", "]"), ("!", "")] {
                let deep = format!("{{{{{}1{}}}}}", open.repeat(n), close.repeat(n));
                let t = Template::parse(&deep).unwrap_or_else(|e| panic!("{open}: {e}"));
                let _ = t.eval(&ctx);
                let too_deep = format!("{{{{{}1{}}}}}", open.repeat(400), close.repeat(400));
                if open != "!" {
                    assert!(Template::parse(&too_deep).is_err());
                }
            }
        })
        .unwrap()
        .join()
        .unwrap();
}
