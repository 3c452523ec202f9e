//! Snapshot JSON round trip over every fixture: parse → serialise → parse gives the same
//! snapshot, and serialising twice gives the same JSON (so a saved snapshot attached to a
//! ticket re-runs the same diagnosis offline).

#![allow(clippy::unwrap_used)]

use egress_probe::model::NetworkSnapshot;
use std::path::PathBuf;

#[test]
fn every_fixture_snapshot_round_trips() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let first: NetworkSnapshot =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let json = serde_json::to_string_pretty(&first).unwrap();
        let second: NetworkSnapshot = serde_json::from_str(&json).unwrap();
        assert_eq!(first, second, "{}", path.display());
        assert_eq!(json, serde_json::to_string_pretty(&second).unwrap());
        // The saved form loads through the public loader too.
        let loaded = egress_probe::snapshot::load(&path).unwrap();
        assert_eq!(loaded, first, "{}", path.display());
        assert!(
            !first.subnets.is_empty(),
            "{}: empty snapshot",
            path.display()
        );
        n += 1;
    }
    assert!(n >= 20, "only {n} fixtures");
}

#[test]
fn unknown_route_state_and_protocol_spellings_parse() {
    // AWS writes protocols as "-1"/"6" and moto sometimes "tcp"; states may be new values.
    let text = r#"{
      "schema": "egress-probe.snapshot/v1",
      "subnets": [{"id": "subnet-1", "vpc_id": "vpc-1", "availability_zone": "us-east-1a"}],
      "route_tables": [{"id": "rtb-1", "vpc_id": "vpc-1", "routes": [
        {"destination": {"ipv4": "0.0.0.0/0"}, "target": {"kind": "nat_gateway", "id": "nat-1"}, "state": "something-new"}
      ]}],
      "network_acls": [{"id": "acl-1", "vpc_id": "vpc-1", "entries": [
        {"rule_number": 100, "egress": true, "protocol": "tcp", "action": "allow", "cidr": "0.0.0.0/0"},
        {"rule_number": 110, "egress": true, "protocol": 17, "action": "allow", "cidr": "::/0"}
      ]}]
    }"#;
    let s: NetworkSnapshot = serde_json::from_str(text).unwrap();
    assert_eq!(
        s.route_tables[0].routes[0].state,
        egress_probe::model::RouteState::Unknown
    );
    assert_eq!(s.network_acls[0].entries[0].protocol.0, 6);
    assert_eq!(s.network_acls[0].entries[1].protocol.0, 17);
    let back: NetworkSnapshot = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
    assert_eq!(back.network_acls, s.network_acls);
}

#[test]
fn a_bad_field_in_a_snapshot_file_is_named_by_its_path() {
    // Issue 12.8: not "data did not match any variant of untagged enum Raw".
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let text = std::fs::read_to_string(dir.join("blackhole.json")).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    for (bad, words) in [
        (serde_json::json!({"x": 1}), "expected a protocol name"),
        (serde_json::json!(true), "expected a protocol name"),
        (serde_json::json!("gre-ish"), "unknown protocol `gre-ish`"),
        (serde_json::json!(999), "unknown protocol `999`"),
    ] {
        v["network_acls"][0]["entries"][1]["protocol"] = bad.clone();
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), serde_json::to_string_pretty(&v).unwrap()).unwrap();
        let err = egress_probe::snapshot::load(file.path())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("field `network_acls[0].entries[1].protocol`"),
            "{bad}: {err}"
        );
        assert!(err.contains(words), "{bad}: {err}");
        assert!(!err.contains("untagged"), "{err}");
        assert!(err.contains(&file.path().display().to_string()), "{err}");
    }
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), b"\xff\xfe not json").unwrap();
    let err = egress_probe::snapshot::load(file.path())
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a snapshot"), "{err}");
}
