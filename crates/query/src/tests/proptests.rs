//! Properties: no input panics, printing round-trips, hostile nesting is an error.

use std::ops::Bound;

use proptest::prelude::*;

use crate::{EXISTS_FIELD, ParseErrorKind, Query, parse, wildcard};

/// Field names: mostly realistic, sometimes full of characters that need escaping.
fn field() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-zA-Z@_][a-zA-Z0-9_.@-]{0,12}",
        1 => "[-+!a-z:*?\\\\ ()\\[\\]{}\"<>/é日]{1,6}",
    ]
    .prop_filter("reserved field names", |field| field != EXISTS_FIELD)
}

/// Values: realistic, syntax-heavy, and arbitrary Unicode.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-zA-Z0-9_.@-]{1,12}",
        3 => "[-+!a-c0-9:*?\\\\/ ()\\[\\]{}\"<>=&|.]{1,8}",
        1 => Just("AND".to_owned()),
        1 => Just("TO".to_owned()),
        1 => Just("||".to_owned()),
        1 => Just("*".to_owned()),
        1 => Just("10.0.0.0/8".to_owned()),
        2 => any::<String>(),
    ]
}

fn optional_field() -> impl Strategy<Value = Option<String>> {
    prop::option::of(field())
}

fn bound() -> impl Strategy<Value = Bound<String>> {
    prop_oneof![
        Just(Bound::Unbounded),
        prop_oneof![value(), Just(String::new())].prop_map(Bound::Included),
        prop_oneof![value(), Just(String::new())].prop_map(Bound::Excluded),
    ]
}

fn wildcard_pattern() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        value().prop_map(|literal| wildcard::escape(&literal)),
        Just("*".to_owned()),
        Just("?".to_owned()),
    ];
    prop::collection::vec(piece, 1..4).prop_map(|pieces| pieces.concat())
}

fn net() -> impl Strategy<Value = ipnet::IpNet> {
    prop_oneof![
        (any::<u32>(), 0u8..=32).prop_map(|(addr, prefix)| {
            ipnet::Ipv4Net::new(addr.into(), prefix)
                .expect("prefix <= 32")
                .into()
        }),
        (any::<u128>(), 0u8..=128).prop_map(|(addr, prefix)| {
            ipnet::Ipv6Net::new(addr.into(), prefix)
                .expect("prefix <= 128")
                .into()
        }),
    ]
}

fn leaf() -> impl Strategy<Value = Query> {
    prop_oneof![
        Just(Query::All),
        (optional_field(), value()).prop_map(|(field, value)| Query::Term { field, value }),
        (optional_field(), any::<String>()).prop_map(|(field, text)| Query::Phrase { field, text }),
        (optional_field(), wildcard_pattern())
            .prop_map(|(field, pattern)| Query::Wildcard { field, pattern }),
        (field(), bound(), bound()).prop_map(|(field, lower, upper)| Query::Range {
            field,
            lower,
            upper
        }),
        (field(), net()).prop_map(|(field, net)| Query::Cidr { field, net }),
        field().prop_map(|field| Query::Exists { field }),
    ]
}

fn query() -> impl Strategy<Value = Query> {
    leaf().prop_recursive(5, 48, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..5).prop_map(Query::And),
            prop::collection::vec(inner.clone(), 2..5).prop_map(Query::Or),
            inner.prop_map(|child| Query::Not(Box::new(child))),
        ]
    })
}

/// Strings built from the language's own pieces reach deeper into the parser than random text.
fn query_like_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("AND "),
        Just("OR "),
        Just("NOT "),
        Just("&&"),
        Just("||"),
        Just("("),
        Just(")"),
        Just("["),
        Just("]"),
        Just("{"),
        Just("}"),
        Just(" TO "),
        Just("\""),
        Just("\\"),
        Just(":"),
        Just("*"),
        Just("?"),
        Just("-"),
        Just("+"),
        Just("!"),
        Just(">="),
        Just("<"),
        Just("f"),
        Just("_exists_"),
        Just("10.0.0.0/8"),
        Just(" "),
        Just("é"),
        Just("日"),
    ];
    prop::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn arbitrary_strings_never_panic(input in any::<String>()) {
        if let Err(error) = parse(&input) {
            prop_assert!(input.is_char_boundary(error.offset));
        }
    }

    #[test]
    fn query_like_strings_never_panic(input in query_like_text()) {
        match parse(&input) {
            Ok(query) => {
                // Whatever parses prints to text that parses to the same tree.
                let printed = query.to_string();
                prop_assert_eq!(parse(&printed), Ok(query), "printed {:?}", printed);
            }
            Err(error) => prop_assert!(input.is_char_boundary(error.offset)),
        }
    }

    #[test]
    fn printing_round_trips(query in query()) {
        let printed = query.to_string();
        prop_assert_eq!(parse(&printed), Ok(query.normalize()), "printed {:?}", printed);
    }

    #[test]
    fn deep_nesting_is_an_error(
        depth in 65usize..10_000,
        opener in prop_oneof![Just("("), Just("NOT "), Just("-"), Just("!"), Just("+(")],
    ) {
        let input = format!("{}a{}", opener.repeat(depth), ")".repeat(depth));
        let error = parse(&input).unwrap_err();
        prop_assert!(
            matches!(error.kind, ParseErrorKind::TooDeep { .. } | ParseErrorKind::TooLong { .. }),
            "{}", error
        );
    }
}

#[test]
fn ten_thousand_parentheses_are_an_error() {
    let input = format!("{}a{}", "(".repeat(10_000), ")".repeat(10_000));
    let error = parse(&input).unwrap_err();
    assert_eq!(
        error.kind,
        ParseErrorKind::TooDeep {
            max: crate::MAX_DEPTH
        }
    );
}
