//! Feature tests: query text in, tree (or error message) out. Every successful parse is also
//! checked to print back to text that parses to the same tree.

mod proptests;

use std::ops::Bound;

use crate::wildcard::{self, WildcardSegment};
use crate::{MAX_DEPTH, MAX_QUERY_BYTES, ParseErrorKind, Query, parse};

fn check(input: &str, expected: Query) {
    let actual = parse(input).unwrap_or_else(|error| panic!("{input:?}: {error}"));
    assert_eq!(actual, expected, "parsing {input:?}");
    let printed = actual.to_string();
    assert_eq!(
        parse(&printed),
        Ok(actual),
        "reparsing {printed:?} printed from {input:?}"
    );
}

fn check_printed(input: &str, canonical: &str) {
    let query = parse(input).unwrap_or_else(|error| panic!("{input:?}: {error}"));
    assert_eq!(query.to_string(), canonical, "printing {input:?}");
}

fn check_error(input: &str, message: &str) {
    match parse(input) {
        Ok(query) => panic!("{input:?} parsed to {query:?}, expected error {message:?}"),
        Err(error) => assert_eq!(error.to_string(), message, "error for {input:?}"),
    }
}

fn term(field: &str, value: &str) -> Query {
    Query::Term {
        field: Some(field.to_owned()),
        value: value.to_owned(),
    }
}

fn text(value: &str) -> Query {
    Query::Term {
        field: None,
        value: value.to_owned(),
    }
}

fn phrase(field: Option<&str>, text: &str) -> Query {
    Query::Phrase {
        field: field.map(str::to_owned),
        text: text.to_owned(),
    }
}

fn wild(field: Option<&str>, pattern: &str) -> Query {
    Query::Wildcard {
        field: field.map(str::to_owned),
        pattern: pattern.to_owned(),
    }
}

fn range(field: &str, lower: Bound<&str>, upper: Bound<&str>) -> Query {
    Query::Range {
        field: field.to_owned(),
        lower: lower.map(str::to_owned),
        upper: upper.map(str::to_owned),
    }
}

fn cidr(field: &str, net: &str) -> Query {
    Query::Cidr {
        field: field.to_owned(),
        net: net.parse().unwrap(),
    }
}

fn exists(field: &str) -> Query {
    Query::Exists {
        field: field.to_owned(),
    }
}

fn and(children: Vec<Query>) -> Query {
    Query::And(children)
}

fn or(children: Vec<Query>) -> Query {
    Query::Or(children)
}

fn not(child: Query) -> Query {
    Query::Not(Box::new(child))
}

#[test]
fn match_all() {
    check("", Query::All);
    check("   \t\n", Query::All);
    check("*", Query::All);
    check("*:*", Query::All);
    check_printed("*:*", "*");
}

#[test]
fn terms() {
    check("mimikatz", text("mimikatz"));
    check("user.name:admin", term("user.name", "admin"));
    check("@timestamp:2024", term("@timestamp", "2024"));
    check(
        "winlog.event_data.TargetUserName:bob",
        term("winlog.event_data.TargetUserName", "bob"),
    );
    check("_id:abc", term("_id", "abc"));
    check("event-type:x", term("event-type", "x"));
    check("naïve:café", term("naïve", "café"));
    check("and", text("and"));
    check("TO", text("TO"));
    check("f:AND", term("f", "AND"));
    check("a&&b", text("a&&b"));
    check("foo-bar", text("foo-bar"));
    check("delta:-5", term("delta", "-5"));
    check("x:!", term("x", "!"));
    check(">5", text(">5"));
    check("*:foo", text("foo"));
}

#[test]
fn whitespace_after_colon() {
    check("user.name: admin", term("user.name", "admin"));
    check("user.name:  \"a b\"", phrase(Some("user.name"), "a b"));
    check(
        "bytes: [1 TO 2]",
        range("bytes", Bound::Included("1"), Bound::Included("2")),
    );
}

#[test]
fn colons_after_the_first_belong_to_the_value() {
    check("mac:00:11:22", term("mac", "00:11:22"));
    check("url.full:http://x", term("url.full", "http://x"));
    check(r"url.full:http\://x", term("url.full", "http://x"));
    check_printed(r"url.full:http\://x", "url.full:http://x");
    check("source.ip:::1", term("source.ip", "::1"));
    check("source.ip:fe80::1", term("source.ip", "fe80::1"));
    check(r"fe80\:\:1", text("fe80::1"));
    check_printed(r"fe80\:\:1", r"fe80\:\:1");
    check("fe80::1", term("fe80", ":1"));
}

#[test]
fn escapes() {
    check(
        r"path:C\:\\Windows\\System32",
        term("path", r"C:\Windows\System32"),
    );
    check(r"a\ b", text("a b"));
    check(r"f:\(x\)", term("f", "(x)"));
    check(r"url.path:\/api\/v1", term("url.path", "/api/v1"));
    check(r"f:a\/b", term("f", "a/b"));
    check(r"\-5", text("-5"));
    check(r"\AND", text("AND"));
    check(r"my\ field:x", term("my field", "x"));
    check(r"f\:g:x", term("f:g", "x"));
    check(r"f:\>5", term("f", ">5"));
    check(r"\*:x", term("*", "x"));
    check_printed(r"a\ b", r"a\ b");
    check_printed(r"\AND", r"\AND");
    check_printed("x:-5", "x:-5");
}

#[test]
fn phrases() {
    check("\"lateral movement\"", phrase(None, "lateral movement"));
    check("message:\"a b\"", phrase(Some("message"), "a b"));
    check(
        r#"message:"say \"hi\" \\o/""#,
        phrase(Some("message"), r#"say "hi" \o/"#),
    );
    check("f:\"\"", phrase(Some("f"), ""));
    check("\"a*b?\"", phrase(None, "a*b?"));
    check("\"AND\"", phrase(None, "AND"));
    check("f:\"10.0.0.0/8\"", phrase(Some("f"), "10.0.0.0/8"));
    check("foo\"bar\"", and(vec![text("foo"), phrase(None, "bar")]));
}

#[test]
fn wildcards() {
    check("user.name:adm*", wild(Some("user.name"), "adm*"));
    check("host.name:srv-??", wild(Some("host.name"), "srv-??"));
    check("power*", wild(None, "power*"));
    check("process.name:*", wild(Some("process.name"), "*"));
    check(r"f:a\*b*", wild(Some("f"), r"a\*b*"));
    check(r"f:a\\b?", wild(Some("f"), r"a\\b?"));
    check(r"f:a\*b", term("f", "a*b"));
    check(r"f:\?", term("f", "?"));
    check(r"\*", text("*"));
    check("-*", not(Query::All));
    check_printed(r"f:a\*b*", r"f:a\*b*");
    check_printed(r"f:a\ b*", r"f:a\ b*");
}

#[test]
fn wildcard_patterns() {
    assert_eq!(
        wildcard::segments(r"a*b\*c?\\"),
        vec![
            WildcardSegment::Literal("a".to_owned()),
            WildcardSegment::AnyString,
            WildcardSegment::Literal("b*c".to_owned()),
            WildcardSegment::AnyChar,
            WildcardSegment::Literal("\\".to_owned()),
        ]
    );
    assert_eq!(wildcard::to_regex("*"), "^(?s:.*)$");
    assert_eq!(
        wildcard::to_regex(r"srv-??.corp*"),
        r"^(?s:srv\-..\.corp.*)$"
    );
    assert_eq!(wildcard::to_regex(r"a\*b\\c\?"), r"^(?s:a\*b\\c\?)$");
    assert_eq!(
        wildcard::to_regex("(x)[y]{z}^$|+#&~"),
        r"^(?s:\(x\)\[y\]\{z\}\^\$\|\+\#\&\~)$"
    );
    assert_eq!(wildcard::to_regex("é ü"), "^(?s:é ü)$");
    assert_eq!(wildcard::escape(r"a*b?c\d"), r"a\*b\?c\\d");
    assert!(wildcard::has_wildcard("a*"));
    assert!(!wildcard::has_wildcard(r"a\*"));
    assert_eq!(
        wildcard::segments(r"trailing\"),
        vec![WildcardSegment::Literal(r"trailing\".to_owned())]
    );
}

#[test]
fn ranges() {
    use Bound::{Excluded, Included, Unbounded};
    check(
        "bytes:[100 TO 200]",
        range("bytes", Included("100"), Included("200")),
    );
    check(
        "bytes:{100 TO 200}",
        range("bytes", Excluded("100"), Excluded("200")),
    );
    check(
        "bytes:[100 TO 200}",
        range("bytes", Included("100"), Excluded("200")),
    );
    check(
        "bytes:{100 TO 200]",
        range("bytes", Excluded("100"), Included("200")),
    );
    check(
        "bytes:[100 TO *]",
        range("bytes", Included("100"), Unbounded),
    );
    check(
        "bytes:[* TO 100]",
        range("bytes", Unbounded, Included("100")),
    );
    check("bytes:{* TO *}", range("bytes", Unbounded, Unbounded));
    check(
        "delta:[-5 TO +5]",
        range("delta", Included("-5"), Included("+5")),
    );
    check(
        "@timestamp:[2024-01-01T00:00:00Z TO now]",
        range(
            "@timestamp",
            Included("2024-01-01T00:00:00Z"),
            Included("now"),
        ),
    );
    check(
        "@timestamp:[now-1d/d TO now]",
        range("@timestamp", Included("now-1d/d"), Included("now")),
    );
    check(
        "name:[\"a b\" TO \"*\"]",
        range("name", Included("a b"), Included("*")),
    );
    check(
        r"name:[\* TO TO]",
        range("name", Included("*"), Included("TO")),
    );
    check(
        "name:[ a   TO   b ]",
        range("name", Included("a"), Included("b")),
    );
    check_printed("bytes:{100 TO *]", "bytes:{100 TO *]");
    check_printed("name:[TO TO x]", r"name:[\TO TO x]");
}

#[test]
fn comparisons() {
    use Bound::{Excluded, Included, Unbounded};
    check("bytes:>=5", range("bytes", Included("5"), Unbounded));
    check("bytes:>5", range("bytes", Excluded("5"), Unbounded));
    check("bytes:<5", range("bytes", Unbounded, Excluded("5")));
    check("bytes:<=5", range("bytes", Unbounded, Included("5")));
    check("delta:>-5", range("delta", Excluded("-5"), Unbounded));
    check(
        "@timestamp:>=2024-01-01T00:00:00Z",
        range("@timestamp", Included("2024-01-01T00:00:00Z"), Unbounded),
    );
    check(
        "bytes:(>=5 <10)",
        and(vec![
            range("bytes", Included("5"), Unbounded),
            range("bytes", Unbounded, Excluded("10")),
        ]),
    );
    check_printed("bytes:>=5", "bytes:[5 TO *]");
    check_printed("bytes:<5", "bytes:[* TO 5}");
}

#[test]
fn networks() {
    check("source.ip:10.0.0.0/8", cidr("source.ip", "10.0.0.0/8"));
    check("source.ip:10.1.2.3/8", cidr("source.ip", "10.1.2.3/8"));
    check("source.ip:::1/128", cidr("source.ip", "::1/128"));
    check("source.ip:fe80::/10", cidr("source.ip", "fe80::/10"));
    check("source.ip:10.0.0.1", term("source.ip", "10.0.0.1"));
    check("source.ip:2001:db8::1", term("source.ip", "2001:db8::1"));
    check("url.path:/api/v1", term("url.path", "/api/v1"));
    check("source.ip:10.0.0.0/33", term("source.ip", "10.0.0.0/33"));
    check(r"source.ip:10.0.0.0\/8", term("source.ip", "10.0.0.0/8"));
    check_printed(r"source.ip:10.0.0.0\/8", r"source.ip:10.0.0.0\/8");
    check("10.0.0.0/8", text("10.0.0.0/8"));
    check(
        "source.ip:(10.0.0.0/8 OR 192.168.0.0/16)",
        or(vec![
            cidr("source.ip", "10.0.0.0/8"),
            cidr("source.ip", "192.168.0.0/16"),
        ]),
    );
}

#[test]
fn presence() {
    check("_exists_:user.name", exists("user.name"));
    check("_exists_:\"odd field\"", exists("odd field"));
    check(r"_exists_:odd\ field", exists("odd field"));
    check("_exists_:(a OR b)", or(vec![exists("a"), exists("b")]));
    check("NOT _exists_:user.name", not(exists("user.name")));
    check(r"_exists_:a\*", exists("a*"));
    check("_exists_:10.0.0.0/8", exists("10.0.0.0/8"));
}

#[test]
fn boolean_operators() {
    let (a, b, c) = (text("a"), text("b"), text("c"));
    check("a AND b", and(vec![a.clone(), b.clone()]));
    check("a && b", and(vec![a.clone(), b.clone()]));
    check("a OR b", or(vec![a.clone(), b.clone()]));
    check("a || b", or(vec![a.clone(), b.clone()]));
    check("NOT a", not(a.clone()));
    check("!a", not(a.clone()));
    check("! a", not(a.clone()));
    check("-a", not(a.clone()));
    check("+a", a.clone());
    check("NOT NOT a", not(not(a.clone())));
    check("(a)&&(b)", and(vec![a.clone(), b.clone()]));
    check("a AND b AND c", and(vec![a.clone(), b.clone(), c.clone()]));
    check("a OR b OR c", or(vec![a.clone(), b.clone(), c.clone()]));
}

#[test]
fn implicit_and() {
    let (a, b, c) = (text("a"), text("b"), text("c"));
    check("a b", and(vec![a.clone(), b.clone()]));
    check(
        "a b OR c",
        or(vec![and(vec![a.clone(), b.clone()]), c.clone()]),
    );
    check("a -b", and(vec![a.clone(), not(b.clone())]));
    check("+a -b c", and(vec![a.clone(), not(b.clone()), c.clone()]));
    check("a NOT b", and(vec![a.clone(), not(b.clone())]));
    check("a !b", and(vec![a.clone(), not(b.clone())]));
    check(
        "a (b OR c)",
        and(vec![a.clone(), or(vec![b.clone(), c.clone()])]),
    );
    check_printed("a b", "a AND b");
}

#[test]
fn precedence() {
    let (a, b, c, d) = (text("a"), text("b"), text("c"), text("d"));
    check(
        "a OR b AND c",
        or(vec![a.clone(), and(vec![b.clone(), c.clone()])]),
    );
    check(
        "a AND b OR c AND d",
        or(vec![
            and(vec![a.clone(), b.clone()]),
            and(vec![c.clone(), d.clone()]),
        ]),
    );
    check("NOT a AND b", and(vec![not(a.clone()), b.clone()]));
    check("NOT a OR b", or(vec![not(a.clone()), b.clone()]));
    check("NOT (a OR b)", not(or(vec![a.clone(), b.clone()])));
    check(
        "(a OR b) AND c",
        and(vec![or(vec![a.clone(), b.clone()]), c.clone()]),
    );
    check_printed("a OR b c", "a OR (b AND c)");
    check_printed("NOT (a b)", "NOT (a AND b)");
}

#[test]
fn parentheses_flatten() {
    let (a, b, c) = (text("a"), text("b"), text("c"));
    check(
        "(a AND b) AND c",
        and(vec![a.clone(), b.clone(), c.clone()]),
    );
    check("a OR (b OR c)", or(vec![a.clone(), b.clone(), c.clone()]));
    check("((a))", a.clone());
    check("(a b) (c)", and(vec![a.clone(), b.clone(), c.clone()]));
}

#[test]
fn field_groups() {
    check(
        "event.code:(4624 OR 4625)",
        or(vec![term("event.code", "4624"), term("event.code", "4625")]),
    );
    check(
        "tags:(a b)",
        and(vec![term("tags", "a"), term("tags", "b")]),
    );
    check("tags:(a)", term("tags", "a"));
    check(
        "f:(a OR (b -c) OR \"d e\" OR x* OR [1 TO 2])",
        or(vec![
            term("f", "a"),
            and(vec![term("f", "b"), not(term("f", "c"))]),
            phrase(Some("f"), "d e"),
            wild(Some("f"), "x*"),
            range("f", Bound::Included("1"), Bound::Included("2")),
        ]),
    );
    check("f:(*)", wild(Some("f"), "*"));
    check("*:(a b)", and(vec![text("a"), text("b")]));
    check(
        "x f:(a b) y",
        and(vec![text("x"), term("f", "a"), term("f", "b"), text("y")]),
    );
}

#[test]
fn realistic_queries() {
    check(
        r#"event.code:4625 AND winlog.event_data.TargetUserName:(admin* OR "svc backup") AND NOT source.ip:10.0.0.0/8"#,
        and(vec![
            term("event.code", "4625"),
            or(vec![
                wild(Some("winlog.event_data.TargetUserName"), "admin*"),
                phrase(Some("winlog.event_data.TargetUserName"), "svc backup"),
            ]),
            not(cidr("source.ip", "10.0.0.0/8")),
        ]),
    );
    check(
        r"process.executable:C\:\\Windows\\System32\\*.exe @timestamp:[now-15m TO now]",
        and(vec![
            wild(Some("process.executable"), r"C:\\Windows\\System32\\*.exe"),
            range(
                "@timestamp",
                Bound::Included("now-15m"),
                Bound::Included("now"),
            ),
        ]),
    );
}

#[test]
fn fields_lists_each_field_once() {
    let query =
        parse("a:1 OR (b:2 AND NOT a:3) _exists_:c d:[1 TO 2] e:10.0.0.0/8 f:* free").unwrap();
    assert_eq!(query.fields(), ["a", "b", "c", "d", "e", "f"]);
    assert!(parse("free \"text\"").unwrap().fields().is_empty());
}

#[test]
fn normalize() {
    let (a, b, c) = (text("a"), text("b"), text("c"));
    let nested = and(vec![a.clone(), and(vec![b.clone(), or(vec![c.clone()])])]);
    assert_eq!(
        nested.clone().normalize(),
        and(vec![a.clone(), b.clone(), c.clone()])
    );
    assert_eq!(parse(&nested.to_string()), Ok(nested.normalize()));
    assert_eq!(and(vec![]).normalize(), Query::All);
    assert_eq!(or(vec![]).normalize(), not(Query::All));
    assert_eq!(wild(Some("f"), r"a\*").normalize(), term("f", "a*"));
    assert_eq!(wild(None, "*").normalize(), Query::All);
    assert_eq!(term("f", "").normalize(), phrase(Some("f"), ""));
}

#[test]
fn errors() {
    check_error("(a", "expected `)`, found end of query at offset 2");
    check_error(
        "a AND (b OR c",
        "expected `)`, found end of query at offset 13",
    );
    check_error("a)", "unexpected `)` at offset 1");
    check_error("()", "empty parentheses at offset 0");
    check_error("f:()", "empty parentheses at offset 2");
    check_error(
        "a AND",
        "expected a search term, found end of query at offset 5",
    );
    check_error(
        "a AND OR b",
        "expected a search term, found `OR` at offset 6",
    );
    check_error("OR a", "expected a search term, found `OR` at offset 0");
    check_error(
        "NOT",
        "expected a search term, found end of query at offset 3",
    );
    check_error(
        "-",
        "expected a search term, found end of query at offset 1",
    );
    check_error("\"abc", "unterminated phrase at offset 0");
    check_error("f:\"abc\\\"", "unterminated phrase at offset 2");
    check_error(
        r"abc\",
        r"`\` at the end of the query escapes nothing at offset 3",
    );
    check_error(":x", "empty field name before `:` at offset 0");
    check_error(
        "f:",
        "expected a value after `f:`, found end of query at offset 2",
    );
    check_error(
        "f: OR x",
        "expected a value after `f:`, found `OR` at offset 3",
    );
    check_error("f: )", "expected a value after `f:`, found `)` at offset 3");
    check_error(
        "[1 TO 2]",
        "range has no field; write `field:[a TO b]` at offset 0",
    );
    check_error("f:[1 2]", "expected `TO`, found `2` at offset 5");
    check_error(
        "f:[1 TO 2",
        "expected `]` or `}`, found end of query at offset 9",
    );
    check_error(
        "f:[1 TO",
        "expected the end of the range, found end of query at offset 7",
    );
    check_error(
        "f:[(",
        "expected the start of the range, found `(` at offset 3",
    );
    check_error(
        "f:>=",
        "expected a value after the comparison, found nothing at offset 4",
    );
    check_error(
        "f:(g:x)",
        "field `g` cannot appear inside the field group `f:(...)` at offset 3",
    );
    check_error(
        "_exists_:a*",
        "`_exists_` expects a field name, found the pattern `a*` at offset 9",
    );
    check_error(
        "_exists_:[a TO b]",
        "`_exists_` expects a field name, found a range at offset 10",
    );
    check_error(
        "_exists_:\"\"",
        "`_exists_` expects a field name, found an empty phrase at offset 9",
    );
    check_error("a ]", "unexpected `]` at offset 2");
    check_error(
        "über (",
        "expected a search term, found end of query at offset 7",
    );
}

#[test]
fn error_offsets_fall_on_char_boundaries() {
    for input in ["é(", "\"é", "ü:é\\", "日本:(語", "f:[日 TO", "é\u{3000}) x"] {
        let error = parse(input).unwrap_err();
        assert!(input.is_char_boundary(error.offset), "{input:?}: {error}");
    }
}

#[test]
fn unicode_whitespace_separates_words() {
    check("a\u{3000}b", and(vec![text("a"), text("b")]));
    check("a\\\u{3000}b", text("a\u{3000}b"));
}

#[test]
fn input_size_limit() {
    let long = "a ".repeat(MAX_QUERY_BYTES / 2 + 1);
    let error = parse(&long).unwrap_err();
    assert!(
        matches!(error.kind, ParseErrorKind::TooLong { .. }),
        "{error}"
    );
    assert_eq!(
        error.to_string(),
        format!(
            "query is {} bytes, over the 65536-byte limit at offset 65536",
            long.len()
        )
    );
    let just_fits = "a".repeat(MAX_QUERY_BYTES);
    assert_eq!(parse(&just_fits), Ok(text(&just_fits)));
}

#[test]
fn nesting_limit() {
    let fits = format!("{}a{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
    assert_eq!(parse(&fits), Ok(text("a")));
    let too_deep = format!(
        "{}a{}",
        "(".repeat(MAX_DEPTH + 1),
        ")".repeat(MAX_DEPTH + 1)
    );
    check_error(&too_deep, "nesting is deeper than 64 levels at offset 64");
    check_error(
        &"NOT ".repeat(MAX_DEPTH + 1),
        "nesting is deeper than 64 levels at offset 256",
    );
    check_error(
        &format!("{}a", "-".repeat(10_000)),
        "nesting is deeper than 64 levels at offset 64",
    );
    check_error(
        &format!("{}a", "!(".repeat(10_000)),
        "nesting is deeper than 64 levels at offset 64",
    );
    assert!(parse(&format!("{}a", "f:(".repeat(10_000))).is_err());
}
