use event::Event;
use serde_json::json;

use crate::{Aggregation, EmbeddedStore, EventStore, SearchRequest, StoreConfig};

fn event(value: serde_json::Value) -> Event {
    serde_json::from_value(value).unwrap()
}

fn store_with_sample() -> (tempfile::TempDir, EmbeddedStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(StoreConfig::new(dir.path().to_owned())).unwrap();
    store
        .append(vec![
            event(json!({"@timestamp": "2024-03-01T10:00:00Z", "event": {"code": "4624", "original": "An account was successfully logged on"}, "user": {"name": "Alice"}, "source": {"ip": "10.1.2.3", "port": 50123}, "winlog": {"event_id": "4624"}})),
            event(json!({"@timestamp": "2024-03-01T11:00:00Z", "event": {"code": "4625"}, "message": "Failed password for root from 192.168.0.7 port 22 ssh2", "user": {"name": "root"}, "source": {"ip": "192.168.0.7"}})),
            event(json!({"@timestamp": "2024-03-02T09:30:00Z", "event": {"code": "4688"}, "process": {"command_line": "C:\\Windows\\System32\\cmd.exe /c whoami"}, "user": {"name": "alice"}, "source": {"ip": "2001:db8::1"}})),
            event(json!({"@timestamp": "2024-03-03T09:30:00Z", "event": {"code": "4634"}, "user": {"name": "bob"}, "url": {"full": "http://evil.example/x?a=1"}, "tags": ["vpn", "admin"], "related": {"ip": ["10.9.9.9", "10.9.9.10"]}, "labels": {"site": ["rome", "milan"]}})),
        ])
        .unwrap();
    store.refresh().unwrap();
    (dir, store)
}

fn count(store: &EmbeddedStore, text: &str) -> u64 {
    let query = query::parse(text).unwrap_or_else(|err| panic!("{text}: {err}"));
    store.search(&SearchRequest::new(query)).unwrap().total
}

#[test]
fn query_forms_match_the_expected_events() {
    let (_dir, store) = store_with_sample();
    let cases = [
        ("*", 4),
        ("user.name:alice", 2),
        ("user.name:ALICE", 2),
        ("user.name:ali*", 2),
        ("user.name:?ob", 1),
        ("event.code:4624", 1),
        ("event.code:[4624 TO 4634]", 3),
        ("event.code:>=4688", 1),
        ("source.port:50123", 1),
        ("source.port:[50000 TO 60000]", 1),
        ("source.ip:10.0.0.0/8", 1),
        ("source.ip:192.168.0.0/16 OR source.ip:2001:db8::/32", 2),
        ("source.ip:\"2001:db8:0::1\"", 1),
        ("_exists_:url.full", 1),
        ("_exists_:url", 1),
        ("_exists_:source.port", 1),
        // Text ranges compare the values as written (case-sensitive), like Elasticsearch keywords.
        ("user.name:[alice TO bob]", 2),
        ("NOT _exists_:source.ip", 1),
        ("password", 1),
        ("\"failed password\"", 1),
        ("message:\"failed password\"", 1),
        ("successfully", 1),
        ("user.name:alice AND NOT event.code:4688", 1),
        ("(user.name:alice OR user.name:bob) AND -event.code:4634", 2),
        ("process.command_line:*whoami*", 1),
        ("url.full:http\\://evil.example*", 1),
        ("user.name:nobody", 0),
        ("tags:admin", 1),
        ("related.ip:10.9.9.10", 1),
        ("related.ip:10.9.0.0/16", 1),
        ("labels.site:milan", 1),
    ];
    let mut failures = Vec::new();
    for (text, expected) in cases {
        let got = count(&store, text);
        if got != expected {
            failures.push(format!("{text}: expected {expected}, got {got}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn time_range_paging_and_order() {
    let (_dir, store) = store_with_sample();
    let mut request = SearchRequest::new(query::Query::All);
    request.from = Some("2024-03-01T10:30:00Z".parse().unwrap());
    request.to = Some("2024-03-03T00:00:00Z".parse().unwrap());
    let response = store.search(&request).unwrap();
    assert_eq!(response.total, 2);
    let codes: Vec<_> = response
        .hits
        .iter()
        .map(|e| e.get_str("event.code").unwrap().to_owned())
        .collect();
    assert_eq!(codes, ["4688", "4625"], "newest first");

    let mut request = SearchRequest::new(query::Query::All);
    request.limit = 2;
    request.offset = 1;
    let response = store.search(&request).unwrap();
    assert_eq!(response.total, 4);
    let codes: Vec<_> = response
        .hits
        .iter()
        .map(|e| e.get_str("event.code").unwrap().to_owned())
        .collect();
    assert_eq!(codes, ["4688", "4625"]);
}

#[test]
fn aggregations_terms_and_histogram() {
    let (_dir, store) = store_with_sample();
    let mut request = SearchRequest::new(query::Query::All);
    request.aggregations = vec![
        Aggregation::Terms {
            name: "users".into(),
            field: "user.name".into(),
            size: 10,
        },
        Aggregation::DateHistogram {
            name: "per_day".into(),
            interval_secs: 86_400,
        },
        Aggregation::Terms {
            name: "sites".into(),
            field: "labels.site".into(),
            size: 10,
        },
    ];
    let response = store.search(&request).unwrap();
    let users = &response.aggregations["users"]["buckets"];
    let pairs: Vec<(String, u64)> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["key"].as_str().unwrap().to_owned(),
                b["doc_count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(pairs.contains(&("Alice".into(), 1)), "{pairs:?}");
    assert!(pairs.contains(&("bob".into(), 1)), "{pairs:?}");
    let days: Vec<u64> = response.aggregations["per_day"]["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["doc_count"].as_u64().unwrap())
        .collect();
    assert_eq!(days, [2, 1, 1]);
    let sites = response.aggregations["sites"]["buckets"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(sites, 2, "both values of a multi-valued field are counted");
}

#[test]
fn restart_replays_unindexed_wal_and_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut config = StoreConfig::new(dir.path().to_owned());
        config.commit_interval = std::time::Duration::from_secs(3600);
        let store = EmbeddedStore::open(config).unwrap();
        for batch in 0..5 {
            let events = (0..100)
                .map(|i| event(json!({"@timestamp": "2024-05-01T00:00:00Z", "n": batch * 100 + i})))
                .collect();
            store.append(events).unwrap();
        }
        // Nothing committed to the index: the WAL has it all.
        store.simulate_crash();
    }
    let store = EmbeddedStore::open(StoreConfig::new(dir.path().to_owned())).unwrap();
    assert_eq!(count(&store, "*"), 500);
    let receipt = store
        .append(vec![event(json!({"@timestamp": "2024-05-01T00:00:01Z"}))])
        .unwrap();
    assert_eq!(
        receipt.first_seq, 501,
        "sequence numbers continue after replay"
    );
    store.close().unwrap();
    drop(store);
    let store = EmbeddedStore::open(StoreConfig::new(dir.path().to_owned())).unwrap();
    assert_eq!(
        count(&store, "*"),
        501,
        "no duplicates after a clean restart"
    );
}

#[test]
fn torn_wal_tail_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut config = StoreConfig::new(dir.path().to_owned());
        config.commit_interval = std::time::Duration::from_secs(3600);
        let store = EmbeddedStore::open(config).unwrap();
        store
            .append(vec![event(json!({"@timestamp": "2024-05-01T00:00:00Z"}))])
            .unwrap();
        store.simulate_crash();
    }
    let wal_file = crate::wal::list_files(&dir.path().join("wal"))
        .unwrap()
        .pop()
        .unwrap()
        .1;
    let mut bytes = std::fs::read(&wal_file).unwrap();
    bytes.extend_from_slice(&[200, 0, 0, 0, 1, 2, 3]);
    std::fs::write(&wal_file, bytes).unwrap();
    let store = EmbeddedStore::open(StoreConfig::new(dir.path().to_owned())).unwrap();
    assert_eq!(count(&store, "*"), 1);
}

#[test]
fn retention_by_age_removes_old_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = StoreConfig::new(dir.path().to_owned());
    config.retention_max_age = Some(std::time::Duration::from_secs(7 * 86_400));
    let store = EmbeddedStore::open(config).unwrap();
    store
        .append(vec![
            event(json!({"@timestamp": "2020-01-01T00:00:00Z"})),
            event(json!({"@timestamp": jiff::Timestamp::now().to_string()})),
        ])
        .unwrap();
    store.refresh().unwrap();
    // Retention runs on the indexer's first tick, right after the append.
    assert_eq!(store.stats().partitions, 1);
    assert_eq!(count(&store, "*"), 1);
    assert_eq!(count(&store, "@timestamp:[2019-01-01 TO 2021-01-01]"), 0);
}

#[test]
fn invalid_queries_are_errors_not_panics() {
    let (_dir, store) = store_with_sample();
    for text in ["user.name:10.0.0.0/8", "@timestamp:[yesterday TO now]"] {
        let query = query::parse(text).unwrap();
        assert!(store.search(&SearchRequest::new(query)).is_err(), "{text}");
    }
}

#[test]
fn retention_by_size_keeps_the_newest_partition() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = StoreConfig::new(dir.path().to_owned());
    config.retention_max_bytes = Some(1);
    let store = EmbeddedStore::open(config).unwrap();
    let days = ["2024-01-01", "2024-01-02", "2024-01-03"];
    for day in days {
        store
            .append(vec![event(
                json!({"@timestamp": format!("{day}T12:00:00Z"), "message": day}),
            )])
            .unwrap();
        store.refresh().unwrap();
    }
    // Retention ran on the first tick (after the first append); run it again by reopening.
    drop(store);
    let mut config = StoreConfig::new(dir.path().to_owned());
    config.retention_max_bytes = Some(1);
    let store = EmbeddedStore::open(config).unwrap();
    store
        .append(vec![event(json!({"@timestamp": "2024-01-03T13:00:00Z"}))])
        .unwrap();
    store.refresh().unwrap();
    assert_eq!(store.stats().partitions, 1);
    assert_eq!(
        store.stats().oldest_partition.as_deref(),
        Some("2024-01-03")
    );
    assert_eq!(count(&store, "*"), 2);
}

#[test]
fn a_store_directory_is_opened_by_one_process_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let _store = EmbeddedStore::open(StoreConfig::new(dir.path().to_owned())).unwrap();
    let second = EmbeddedStore::open(StoreConfig::new(dir.path().to_owned()));
    assert!(matches!(second, Err(crate::StoreError::Locked(_))));
}

#[test]
fn only_aggregatable_fields_have_terms_aggregations() {
    assert!(
        crate::AGGREGATABLE_FIELDS
            .windows(2)
            .all(|pair| pair[0] < pair[1]),
        "AGGREGATABLE_FIELDS must stay sorted (binary search)"
    );
    let (_dir, store) = store_with_sample();
    let mut request = SearchRequest::new(query::Query::All);
    request.aggregations = vec![Aggregation::Terms {
        name: "x".into(),
        field: "process.command_line".into(),
        size: 5,
    }];
    let error = store.search(&request).unwrap_err().to_string();
    assert!(error.contains("cannot be aggregated"), "{error}");
}

#[test]
fn wild_clocks_do_not_multiply_partitions_and_are_still_found() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(StoreConfig::new(dir.path().to_owned())).unwrap();
    let events = (0..50)
        .flat_map(|year| {
            [
                event(json!({"@timestamp": format!("{}-06-01T00:00:00Z", 2100 + year), "kind": "future"})),
                event(json!({"@timestamp": format!("{}-06-01T00:00:00Z", 1800 + year), "kind": "past"})),
            ]
        })
        .collect();
    store.append(events).unwrap();
    store.refresh().unwrap();
    assert_eq!(store.stats().partitions, 2, "one partition per clamp end");
    let mut request = SearchRequest::new(query::parse("kind:future").unwrap());
    request.from = Some("2149-01-01T00:00:00Z".parse().unwrap());
    assert_eq!(store.search(&request).unwrap().total, 1);
    let mut request = SearchRequest::new(query::parse("kind:past").unwrap());
    request.to = Some("1801-01-01T00:00:00Z".parse().unwrap());
    assert_eq!(store.search(&request).unwrap().total, 1);
}

fn scan(store: &EmbeddedStore, text: &str, from: Option<&str>, to: Option<&str>) -> Vec<Event> {
    let request = crate::ScanRequest {
        query: query::parse(text).unwrap(),
        from: from.map(|t| t.parse().unwrap()),
        to: to.map(|t| t.parse().unwrap()),
    };
    let mut seen = Vec::new();
    let stats = store
        .scan(&request, &mut |event| {
            seen.push(event);
            true
        })
        .unwrap();
    assert_eq!(stats.visited as usize, seen.len());
    seen
}

fn codes(events: &[Event]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e.get_str("event.code").unwrap())
        .collect()
}

#[test]
fn scan_visits_matches_oldest_first_within_the_range() {
    let (_dir, store) = store_with_sample();
    assert_eq!(
        codes(&scan(&store, "*", None, None)),
        ["4624", "4625", "4688", "4634"]
    );
    assert_eq!(
        codes(&scan(
            &store,
            "*",
            Some("2024-03-01T11:00:00Z"),
            Some("2024-03-03T09:30:00Z")
        )),
        ["4625", "4688"]
    );
    assert_eq!(
        codes(&scan(&store, "user.name:alice", None, None)),
        ["4624", "4688"]
    );
    assert!(scan(&store, "*", Some("2030-01-01T00:00:00Z"), None).is_empty());
}

#[test]
fn scan_stops_when_asked_and_orders_equal_times_by_arrival() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(StoreConfig::new(dir.path().to_owned())).unwrap();
    // Appended out of time order, several with the same timestamp.
    let events: Vec<Event> = [
        ("2024-03-01T10:00:05Z", "c"),
        ("2024-03-01T10:00:01Z", "a"),
        ("2024-03-01T10:00:05Z", "d"),
        ("2024-03-01T10:00:03Z", "b"),
    ]
    .iter()
    .map(|(ts, code)| event(json!({"@timestamp": ts, "event": {"code": code}})))
    .collect();
    store.append(events).unwrap();
    store.refresh().unwrap();
    assert_eq!(codes(&scan(&store, "*", None, None)), ["a", "b", "c", "d"]);
    let mut seen = 0;
    let stats = store
        .scan(
            &crate::ScanRequest {
                query: query::Query::All,
                from: None,
                to: None,
            },
            &mut |_| {
                seen += 1;
                seen < 2
            },
        )
        .unwrap();
    assert_eq!((stats.visited, stats.stopped), (2, true));
}

#[test]
fn scan_splits_large_slices_without_changing_the_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(StoreConfig::new(dir.path().to_owned())).unwrap();
    let events: Vec<Event> = (0..50)
        .map(|i| {
            // Shuffled times over one day, two events per second value.
            let second = (i * 37) % 25;
            event(json!({"@timestamp": format!("2024-03-01T10:00:{second:02}Z"), "event": {"code": i.to_string()}}))
        })
        .collect();
    store.append(events).unwrap();
    store.refresh().unwrap();
    let request = crate::ScanRequest {
        query: query::Query::All,
        from: None,
        to: None,
    };
    let mut whole = Vec::new();
    store
        .scan(&request, &mut |e| {
            whole.push(e);
            true
        })
        .unwrap();
    let mut sliced = Vec::new();
    let stats = store
        .scan_sliced(&request, 3, &mut |e| {
            sliced.push(e);
            true
        })
        .unwrap();
    assert_eq!(stats.visited, 50);
    assert_eq!(codes(&whole), codes(&sliced));
    let times: Vec<&str> = whole
        .iter()
        .map(|e| e.get_str("@timestamp").unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
}
