use super::*;
use serde_json::json;

#[test]
fn dotted_paths_read_nested_and_flat_keys() {
    let event: Event = serde_json::from_value(json!({
        "source": {"ip": "10.0.0.1"},
        "user.name": "alice",
        "winlog": {"event_data.TargetUserName": "bob"}
    }))
    .unwrap();
    assert_eq!(event.get_str("source.ip"), Some("10.0.0.1"));
    assert_eq!(event.get_str("user.name"), Some("alice"));
    assert_eq!(
        event.get_str("winlog.event_data.TargetUserName"),
        Some("bob")
    );
    assert_eq!(event.get("source.port"), None);
}

#[test]
fn insert_creates_and_replaces_intermediate_objects() {
    let mut event = Event::new();
    event.insert("a", json!("scalar"));
    event.insert("a.b.c", json!(1));
    assert_eq!(event.get("a.b.c"), Some(&json!(1)));
    event.insert_if_absent("a.b.c", json!(2));
    assert_eq!(event.get("a.b.c"), Some(&json!(1)));
    assert_eq!(event.remove("a.b.c"), Some(json!(1)));
    assert_eq!(event.get("a.b.c"), None);
}

#[test]
fn leaves_are_visited_with_their_paths() {
    let event: Event =
        serde_json::from_value(json!({"a": {"b": [1, 2], "c": "x"}, "d": null})).unwrap();
    let mut seen = Vec::new();
    event.for_each_leaf(|path, value| seen.push(format!("{path}={value}")));
    assert_eq!(seen, ["a.b=1", "a.b=2", "a.c=\"x\"", "d=null"]);
}
