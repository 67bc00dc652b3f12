use super::*;

const NOW: i64 = 1_790_000_000;
const PASSWORD: &str = "correct horse battery";

fn store() -> (tempfile::TempDir, AuthStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = AuthStore::open_in(dir.path()).unwrap();
    (dir, store)
}

fn actions(store: &AuthStore) -> Vec<String> {
    let mut log = store.audit_log(None, 1000).unwrap();
    log.reverse();
    log.into_iter().map(|entry| entry.action).collect()
}

#[test]
fn roles_are_ordered() {
    assert!(Role::Viewer < Role::Analyst && Role::Analyst < Role::Admin);
    assert_eq!("analyst".parse::<Role>().unwrap(), Role::Analyst);
    assert!("root".parse::<Role>().is_err());
}

#[test]
fn first_admin_gets_a_private_one_time_password() {
    let (dir, store) = store();
    let path = store
        .ensure_initial_admin(dir.path(), NOW)
        .unwrap()
        .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let password = std::fs::read_to_string(&path).unwrap();
    let session = store
        .sign_in(INITIAL_ADMIN, password.trim(), "test", NOW)
        .unwrap();
    assert!(session.user.must_change_password);
    assert_eq!(session.user.role, Role::Admin);
    let principal = store.session(&session.id, NOW).unwrap().unwrap();
    assert!(principal.must_change_password);
    // Changing it clears the flag and ends the session that used the one-time password.
    store
        .change_own_password(INITIAL_ADMIN, password.trim(), PASSWORD, NOW)
        .unwrap();
    assert!(store.session(&session.id, NOW).unwrap().is_none());
    assert!(!store.user(INITIAL_ADMIN).unwrap().must_change_password);
    // Only once: users exist now.
    assert!(
        store
            .ensure_initial_admin(dir.path(), NOW)
            .unwrap()
            .is_none()
    );
}

#[test]
fn passwords_are_argon2id_and_never_stored_in_clear() {
    let (dir, store) = store();
    store
        .add_user("carla", Role::Analyst, PASSWORD, "admin", NOW)
        .unwrap();
    assert!(matches!(
        store.add_user("carla", Role::Viewer, PASSWORD, "admin", NOW),
        Err(AuthError::UserExists(_))
    ));
    assert!(matches!(
        store.add_user("bob", Role::Viewer, "short", "admin", NOW),
        Err(AuthError::Invalid(_))
    ));
    assert!(matches!(
        store.add_user("<script>", Role::Viewer, PASSWORD, "admin", NOW),
        Err(AuthError::Invalid(_))
    ));
    let record = store.user_record("carla").unwrap();
    assert!(record.password_hash.starts_with("$argon2id$"));
    drop(store);
    let bytes = std::fs::read(dir.path().join(AUTH_DB_FILE)).unwrap();
    let needle = PASSWORD.as_bytes();
    assert!(!bytes.windows(needle.len()).any(|window| window == needle));
}

#[test]
fn sign_in_opens_a_fresh_session_each_time_and_sign_out_ends_it() {
    let (_dir, store) = store();
    store
        .add_user("carla", Role::Analyst, PASSWORD, "admin", NOW)
        .unwrap();
    assert!(matches!(
        store.sign_in("carla", "wrong password!", "test", NOW),
        Err(AuthError::InvalidCredentials)
    ));
    assert!(matches!(
        store.sign_in("nobody", PASSWORD, "test", NOW),
        Err(AuthError::InvalidCredentials)
    ));
    let first = store.sign_in("carla", PASSWORD, "test", NOW).unwrap();
    let second = store.sign_in("carla", PASSWORD, "test", NOW).unwrap();
    // 256-bit ids, never reused: a planted id cannot become a signed-in session.
    assert_eq!(first.id.len(), 64);
    assert_ne!(first.id, second.id);
    assert_ne!(first.csrf, second.csrf);
    let principal = store.session(&first.id, NOW + 10).unwrap().unwrap();
    assert_eq!(principal.name, "carla");
    assert_eq!(principal.role, Role::Analyst);
    assert_eq!(
        principal.via,
        Via::Session {
            csrf: first.csrf.clone(),
            id: first.id.clone()
        }
    );
    assert!(store.session("not-a-session", NOW).unwrap().is_none());
    // Expiry.
    let ttl = store.policy().session_ttl_secs;
    assert!(store.session(&first.id, NOW + ttl).unwrap().is_none());
    store.sign_out(&second.id, NOW).unwrap();
    assert!(store.session(&second.id, NOW).unwrap().is_none());
    assert_eq!(
        actions(&store),
        [
            "user_created",
            "sign_in_failed",
            "sign_in_failed",
            "sign_in",
            "sign_in",
            "sign_out"
        ]
    );
}

#[test]
fn repeated_failures_lock_the_account_even_for_the_right_password() {
    let (_dir, store) = store();
    store
        .add_user("carla", Role::Analyst, PASSWORD, "admin", NOW)
        .unwrap();
    let max = store.policy().max_failed_sign_ins;
    for _ in 0..max {
        assert!(matches!(
            store.sign_in("carla", "guess guess guess", "test", NOW),
            Err(AuthError::InvalidCredentials)
        ));
    }
    let lockout = store.policy().lockout_secs;
    assert!(matches!(
        store.sign_in("carla", PASSWORD, "test", NOW + 1),
        Err(AuthError::Locked { until }) if until == NOW + lockout
    ));
    assert!(actions(&store).contains(&"user_locked".to_owned()));
    // The lock ends by itself...
    store
        .sign_in("carla", PASSWORD, "test", NOW + lockout)
        .unwrap();
    // ...or when an admin resets the password.
    for _ in 0..max {
        let _ = store.sign_in("carla", "guess guess guess", "test", NOW);
    }
    store
        .set_password("carla", "another long password", "admin", NOW)
        .unwrap();
    store
        .sign_in("carla", "another long password", "test", NOW + 1)
        .unwrap();
}

#[test]
fn disabling_a_user_ends_sessions_and_tokens() {
    let (_dir, store) = store();
    store
        .add_user("carla", Role::Analyst, PASSWORD, "admin", NOW)
        .unwrap();
    let session = store.sign_in("carla", PASSWORD, "test", NOW).unwrap();
    let (token, _) = store.create_token("carla", "script", None, NOW).unwrap();
    store.set_disabled("carla", true, "admin", NOW).unwrap();
    assert!(store.session(&session.id, NOW).unwrap().is_none());
    assert!(store.check_token(&token, NOW).unwrap().is_none());
    assert!(matches!(
        store.sign_in("carla", PASSWORD, "test", NOW),
        Err(AuthError::Disabled)
    ));
    store.set_disabled("carla", false, "admin", NOW).unwrap();
    assert!(store.check_token(&token, NOW).unwrap().is_some());
    store.set_role("carla", Role::Viewer, "admin", NOW).unwrap();
    assert_eq!(
        store.check_token(&token, NOW).unwrap().unwrap().role,
        Role::Viewer
    );
}

#[test]
fn api_tokens_are_stored_as_digests_and_revocable() {
    let (dir, store) = store();
    store
        .add_user("carla", Role::Analyst, PASSWORD, "admin", NOW)
        .unwrap();
    store
        .add_user("dario", Role::Viewer, PASSWORD, "admin", NOW)
        .unwrap();
    let (secret, info) = store
        .create_token("carla", "nightly export", Some(NOW + 100), NOW)
        .unwrap();
    assert!(secret.starts_with(TOKEN_PREFIX));
    let principal = store.check_token(&secret, NOW).unwrap().unwrap();
    assert_eq!(
        (principal.name.as_str(), principal.via),
        (
            "carla",
            Via::Token {
                name: Some("nightly export".to_owned())
            }
        )
    );
    assert!(store.check_token(&secret, NOW + 100).unwrap().is_none());
    assert!(store.check_token("snt_00", NOW).unwrap().is_none());
    assert_eq!(
        store.list_tokens(Some("carla")).unwrap(),
        std::slice::from_ref(&info)
    );
    assert!(store.list_tokens(Some("dario")).unwrap().is_empty());
    // Someone else cannot revoke it.
    assert!(matches!(
        store.revoke_token(&info.id, Some("dario"), "dario", NOW),
        Err(AuthError::NoSuchToken(_))
    ));
    store
        .revoke_token(&info.id, Some("carla"), "carla", NOW)
        .unwrap();
    assert!(store.check_token(&secret, NOW).unwrap().is_none());
    drop(store);
    let bytes = std::fs::read(dir.path().join(AUTH_DB_FILE)).unwrap();
    assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()));
}

#[test]
fn audit_log_pages_newest_first_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = AuthStore::open_in(dir.path()).unwrap();
        for n in 0..5 {
            store
                .audit(
                    "carla",
                    "rule_disabled",
                    Some(&format!("rule-{n}")),
                    serde_json::json!({}),
                    NOW + n,
                )
                .unwrap();
        }
    }
    let store = AuthStore::open_in(dir.path()).unwrap();
    let page = store.audit_log(None, 2).unwrap();
    assert_eq!(page.iter().map(|e| e.seq).collect::<Vec<_>>(), [5, 4]);
    let next = store.audit_log(Some(4), 10).unwrap();
    assert_eq!(next.iter().map(|e| e.seq).collect::<Vec<_>>(), [3, 2, 1]);
    assert_eq!(next[2].target.as_deref(), Some("rule-0"));
}

#[test]
fn alert_triage_status_assignee_comments_and_bulk() {
    let (_dir, store) = store();
    store
        .add_user("carla", Role::Analyst, PASSWORD, "admin", NOW)
        .unwrap();
    let ids = vec!["a1".to_owned(), "a2".to_owned()];
    assert!(store.alert_states(&ids).unwrap().is_empty());
    let states = store
        .change_alerts(
            &ids,
            &AlertChange {
                status: Some(AlertStatus::Acknowledged),
                assignee: Some("carla".to_owned()),
                comment: Some("looking <b>now</b>".to_owned()),
            },
            "carla",
            NOW,
        )
        .unwrap();
    assert_eq!(states.len(), 2);
    let close = AlertChange {
        status: Some(AlertStatus::ClosedFalsePositive),
        ..AlertChange::default()
    };
    store
        .change_alerts(&ids[..1], &close, "carla", NOW + 5)
        .unwrap();
    let now = store.alert_states(&ids).unwrap();
    assert_eq!(now["a1"].status, AlertStatus::ClosedFalsePositive);
    assert_eq!(now["a2"].status, AlertStatus::Acknowledged);
    assert_eq!(now["a1"].assignee.as_deref(), Some("carla"));
    assert_eq!(now["a1"].comments[0].text, "looking <b>now</b>");
    assert!(now["a1"].status.is_closed());
    // Unknown assignee, empty change, empty comment are refused.
    for bad in [
        AlertChange {
            assignee: Some("nobody".to_owned()),
            ..AlertChange::default()
        },
        AlertChange::default(),
        AlertChange {
            comment: Some("   ".to_owned()),
            ..AlertChange::default()
        },
    ] {
        assert!(
            store.change_alerts(&ids, &bad, "carla", NOW).is_err(),
            "{bad:?}"
        );
    }
    let log = store.audit_log(None, 1).unwrap();
    assert_eq!(log[0].action, "alert_changed");
    assert_eq!(log[0].detail["from"], "acknowledged");
    assert_eq!(log[0].detail["status"], "closed_false_positive");
}

#[test]
fn saved_searches_are_per_user() {
    let (_dir, store) = store();
    let search = |name: &str| SavedSearch {
        name: name.to_owned(),
        query: "event.code:4625".to_owned(),
        range: "24h".to_owned(),
    };
    store
        .save_search("carla", &search("failed logons"))
        .unwrap();
    store.save_search("carla", &search("another")).unwrap();
    store.save_search("carl", &search("not carla's")).unwrap();
    let names: Vec<String> = store
        .saved_searches("carla")
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["another", "failed logons"]);
    assert!(store.delete_search("carla", "another").unwrap());
    assert!(!store.delete_search("carla", "another").unwrap());
    assert_eq!(store.saved_searches("carla").unwrap().len(), 1);
    assert!(store.save_search("carla", &search("")).is_err());
}

#[test]
fn failures_from_one_source_across_accounts_block_that_source_only() {
    let dir = tempfile::tempdir().unwrap();
    let policy = AuthPolicy {
        max_failed_per_source: 3,
        source_window_secs: 600,
        source_block_secs: 300,
        ..AuthPolicy::recommended()
    };
    let store = AuthStore::open(&dir.path().join("auth.redb"), policy).unwrap();
    for name in ["carla", "vera"] {
        store
            .add_user(name, Role::Analyst, PASSWORD, "test", NOW)
            .unwrap();
    }
    // A spray: one wrong guess per account, plus an unknown name; no account locks.
    for name in ["carla", "vera", "nobody"] {
        assert!(matches!(
            store.sign_in(name, "spring2026!", "192.0.2.7", NOW),
            Err(AuthError::InvalidCredentials)
        ));
    }
    // Now even the right password is refused from there, but not from elsewhere.
    assert!(matches!(
        store.sign_in("carla", PASSWORD, "192.0.2.7", NOW + 1),
        Err(AuthError::SourceBlocked { until }) if until == NOW + 300
    ));
    store
        .sign_in("carla", PASSWORD, "198.51.100.1", NOW + 1)
        .unwrap();
    // The block ends, and a success never resets the source's count of failures.
    store
        .sign_in("carla", PASSWORD, "192.0.2.7", NOW + 300)
        .unwrap();
    let log = store.audit_log(None, 1000).unwrap();
    let blocked = log
        .iter()
        .find(|entry| entry.action == "source_blocked")
        .unwrap();
    assert_eq!(blocked.detail["source"], "192.0.2.7");
    assert_eq!(blocked.detail["until"], NOW + 300);
    let refused = log
        .iter()
        .find(|entry| entry.detail["reason"] == "source_blocked")
        .unwrap();
    assert_eq!(refused.actor, "carla");
    assert!(
        !actions(&store).contains(&"user_locked".to_owned()),
        "{:?}",
        actions(&store)
    );
}

#[test]
fn source_failures_outside_the_window_do_not_add_up() {
    let dir = tempfile::tempdir().unwrap();
    let policy = AuthPolicy {
        max_failed_per_source: 2,
        source_window_secs: 60,
        source_block_secs: 300,
        ..AuthPolicy::recommended()
    };
    let store = AuthStore::open(&dir.path().join("auth.redb"), policy).unwrap();
    let _ = store.sign_in("nobody", "x", "192.0.2.7", NOW);
    let _ = store.sign_in("nobody", "x", "192.0.2.7", NOW + 60);
    assert!(matches!(
        store.sign_in("nobody", "x", "192.0.2.7", NOW + 61),
        Err(AuthError::InvalidCredentials)
    ));
    assert!(matches!(
        store.sign_in("nobody", "x", "192.0.2.7", NOW + 62),
        Err(AuthError::SourceBlocked { .. })
    ));
}

fn spray_policy() -> AuthPolicy {
    AuthPolicy {
        max_failed_per_source: 3,
        source_window_secs: 600,
        source_block_secs: 300,
        ..AuthPolicy::recommended()
    }
}

#[test]
fn source_blocks_and_counts_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.redb");
    {
        let store = AuthStore::open(&path, spray_policy()).unwrap();
        // Two failures from one address, three from another (blocked).
        for _ in 0..2 {
            let _ = store.sign_in("nobody", "x", "192.0.2.1", NOW);
        }
        for _ in 0..3 {
            let _ = store.sign_in("nobody", "x", "192.0.2.2", NOW);
        }
    }
    let store = AuthStore::open(&path, spray_policy()).unwrap();
    store
        .add_user("carla", Role::Analyst, PASSWORD, "test", NOW)
        .unwrap();
    assert!(matches!(
        store.sign_in("carla", PASSWORD, "192.0.2.2", NOW + 1),
        Err(AuthError::SourceBlocked { until }) if until == NOW + 300
    ));
    // The first address's two failures were remembered: one more blocks it.
    let _ = store.sign_in("nobody", "x", "192.0.2.1", NOW + 2);
    assert!(matches!(
        store.sign_in("carla", PASSWORD, "192.0.2.1", NOW + 3),
        Err(AuthError::SourceBlocked { .. })
    ));
    store
        .sign_in("carla", PASSWORD, "198.51.100.1", NOW + 3)
        .unwrap();
}

#[test]
fn refusals_of_a_blocked_source_are_audited_in_summary() {
    let dir = tempfile::tempdir().unwrap();
    let store = AuthStore::open(&dir.path().join("auth.redb"), spray_policy()).unwrap();
    for _ in 0..3 {
        let _ = store.sign_in("nobody", "x", "192.0.2.7", NOW);
    }
    let before = store.audit_log(None, 10_000).unwrap().len();
    // An attacker keeps hammering the blocked address with many names.
    for n in 0..1_500 {
        let name = format!("user{}", n % 20);
        assert!(matches!(
            store.sign_in(&name, "x", "192.0.2.7", NOW + 1 + n / 10),
            Err(AuthError::SourceBlocked { .. })
        ));
    }
    let log = store.audit_log(None, 10_000).unwrap();
    let refusals: Vec<&AuditEntry> = log[..log.len() - before].iter().rev().collect();
    let counts: Vec<u64> = refusals
        .iter()
        .map(|entry| entry.detail["refused"].as_u64().unwrap())
        .collect();
    assert_eq!(counts, [1, 10, 100, 1000]);
    assert!(refusals.iter().all(
        |entry| entry.action == "sign_in_failed" && entry.detail["reason"] == "source_blocked"
    ));
    assert_eq!(refusals[3].detail["names"].as_array().unwrap().len(), 10);
    // Once the block is over, one summary with the exact count.
    assert_eq!(store.settle_ended_blocks(NOW + 299).unwrap(), 0);
    assert_eq!(store.settle_ended_blocks(NOW + 300).unwrap(), 1);
    assert_eq!(store.settle_ended_blocks(NOW + 301).unwrap(), 0);
    let summary = &store.audit_log(None, 1).unwrap()[0];
    assert_eq!(summary.action, "source_block_ended");
    assert_eq!(summary.detail["refused"], 1_500);
    assert_eq!(summary.detail["source"], "192.0.2.7");
    assert_eq!(summary.detail["since"], NOW);
    // Without the sweep, the next attempt from the address settles it too.
    for _ in 0..3 {
        let _ = store.sign_in("nobody", "x", "192.0.2.8", NOW);
    }
    let _ = store.sign_in("nobody", "x", "192.0.2.8", NOW + 1);
    let _ = store.sign_in("nobody", "x", "192.0.2.8", NOW + 400);
    assert!(
        store
            .audit_log(None, 5)
            .unwrap()
            .iter()
            .any(|entry| entry.action == "source_block_ended"
                && entry.detail["source"] == "192.0.2.8"
                && entry.detail["refused"] == 1)
    );
}
