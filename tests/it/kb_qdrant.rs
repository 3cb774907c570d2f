//! The Qdrant backend end to end: the client against a local fake of Qdrant's REST API
//! (collection and payload indexes, upsert, filtered hybrid search, delete, reindex, paged
//! scroll at open, errors 401/404/500/503 and an unreachable server), the `baynet kb
//! --backend qdrant` binary moving a knowledge base to and from the embedded store, and the
//! same flow against a real Qdrant when `QDRANT_URL` is set (skipped, and saying so, when not).

use crate::support::ok;

use super::qdrant_fake::FakeQdrant;
use baynet::knowledge::index::KnowledgeIndex;
use baynet::knowledge::qdrant::{QdrantSettings, QdrantStore};
use baynet::knowledge::record::{SymptomSignature, parse};
use baynet::knowledge::store::{SearchQuery, StoreError, StoredRecord, content_hash};
use baynet::knowledge::vectors::HashedBagOfWords;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn markdown(id: &str, class: &str, service: &str, signals: &str, title: &str) -> String {
    format!(
        "---\nid: {id}\ntitle: \"{title}\"\nstarted: 2026-11-20T10:00:00Z\nsource: chaos-experiment\n\
         root_cause_service: {service}\nfault_class: {class}\naffected_services: [front-end, {service}]\n\
         symptom_signature:\n  gateway: [error_ratio]\n  services:\n    {service}: {{{signals}}}\n\
         remediation: \"Fix {service}\"\ntags: [recorded, {class}]\n---\n\n\
         ## Summary\n{title} on {service}.\n"
    )
}

fn stored(id: &str, class: &str, service: &str, signals: &str, title: &str) -> StoredRecord {
    let text = markdown(id, class, service, signals, title);
    let record = parse(Path::new("x.md"), &text).unwrap();
    StoredRecord {
        path: PathBuf::from(format!("/kb/{id}.md")),
        hash: content_hash(text.as_bytes()),
        body: record.body.clone(),
        record,
    }
}

fn settings(url: &str, collection: &str, key: Option<&str>) -> QdrantSettings {
    let env = |name: &str| match (name, key) {
        ("QDRANT_API_KEY", Some(key)) => Some(key.to_owned()),
        _ => None,
    };
    let knowledge = baynet::config::load_knowledge(Some(&empty_config()), &env).unwrap();
    QdrantSettings {
        url: url.to_owned(),
        collection: collection.to_owned(),
        api_key: knowledge.qdrant_api_key,
        timeout: Duration::from_secs(10),
    }
}

fn empty_config() -> PathBuf {
    let path =
        std::env::temp_dir().join(format!("baynet-empty-config-{}.toml", std::process::id()));
    std::fs::write(&path, "").unwrap();
    path
}

fn open(url: &str, collection: &str, key: Option<&str>) -> Result<QdrantStore, StoreError> {
    QdrantStore::open(
        settings(url, collection, key),
        Box::new(HashedBagOfWords::new(64)),
    )
}

fn ids(hits: &[baynet::knowledge::store::Hit]) -> Vec<&str> {
    hits.iter().map(|h| h.id.as_str()).collect()
}

fn three() -> Vec<StoredRecord> {
    vec![
        stored(
            "inc-carts-pod",
            "pod-failure",
            "carts",
            "health: 0.95, restarts_per_s: 0.7",
            "Carts pods stopped serving after the node drain",
        ),
        stored(
            "inc-orders-cpu",
            "cpu-stress",
            "orders",
            "cpu_cores: 0.97, latency_p99_ms: 0.8",
            "Orders starved of CPU by a noisy neighbour",
        ),
        stored(
            "inc-user-pod",
            "pod-failure",
            "user",
            "health: 0.9, restarts_per_s: 0.8",
            "User service crash loop",
        ),
    ]
}

/// The backend's behaviour, against a fake or a real server.
fn exercise(url: &str, collection: &str) {
    let mut store = open(url, collection, None).unwrap();
    assert_eq!(store.len(), 0);
    store.upsert_batch(three()).unwrap();
    assert_eq!(store.len(), 3);
    let query = SearchQuery {
        text: "node drain carts pods".to_owned(),
        limit: 5,
        ..SearchQuery::default()
    };
    let hits = store.search(&query).unwrap();
    assert_eq!(hits[0].id, "inc-carts-pod", "{hits:?}");
    assert_eq!(hits[0].bm25_rank, Some(1), "the sparse ranking: {hits:?}");
    assert_eq!(hits[0].vector_rank, Some(1), "the dense ranking: {hits:?}");
    // Filters run in Qdrant (payload indexes) and again locally.
    let cpu = store
        .search(&SearchQuery {
            fault_class: Some("cpu-stress".to_owned()),
            ..query.clone()
        })
        .unwrap();
    assert_eq!(ids(&cpu), ["inc-orders-cpu"]);
    let user = store
        .search(&SearchQuery {
            service: Some("user".to_owned()),
            text: "crash".to_owned(),
            ..query.clone()
        })
        .unwrap();
    assert_eq!(ids(&user), ["inc-user-pod"]);
    let before = store
        .search(&SearchQuery {
            started_before: Some("2026-01-01T00:00:00Z".to_owned()),
            ..query.clone()
        })
        .unwrap();
    assert!(before.is_empty(), "{before:?}");
    // The signature finds the same fault class on another service, its own record left out.
    let wanted: SymptomSignature = store
        .get("inc-carts-pod")
        .unwrap()
        .record
        .symptom_signature
        .clone();
    let similar = store
        .search(&SearchQuery {
            text: String::new(),
            signature: Some(wanted),
            exclude_id: Some("inc-carts-pod".to_owned()),
            limit: 3,
            ..SearchQuery::default()
        })
        .unwrap();
    assert_eq!(similar[0].id, "inc-user-pod", "{similar:?}");
    assert!(similar.iter().all(|h| h.id != "inc-carts-pod"));
    // A duplicate id from another file is refused and nothing changes.
    let mut other = stored(
        "inc-user-pod",
        "pod-failure",
        "user",
        "health: 0.9",
        "Other",
    );
    other.path = PathBuf::from("/elsewhere/inc-user-pod.md");
    assert!(matches!(
        store.upsert(other),
        Err(StoreError::DuplicateId { .. })
    ));
    // Delete.
    store.remove("inc-orders-cpu").unwrap();
    assert!(
        store
            .search(&SearchQuery {
                text: "CPU noisy neighbour".to_owned(),
                ..query.clone()
            })
            .unwrap()
            .iter()
            .all(|h| h.id != "inc-orders-cpu")
    );
    assert!(matches!(
        store.remove("inc-orders-cpu"),
        Err(StoreError::NotFound(_))
    ));
    drop(store);
    // Reopen: the records come back from a paged scroll.
    let mut store = open(url, collection, None).unwrap();
    assert_eq!(
        store
            .records()
            .map(|s| s.record.id.as_str())
            .collect::<Vec<_>>(),
        ["inc-carts-pod", "inc-user-pod"]
    );
    // Reindex: the collection becomes exactly the given records (70: more than a scroll page).
    let many: Vec<StoredRecord> = (0..70)
        .map(|i| {
            stored(
                &format!("r-{i:03}"),
                "http-abort",
                "catalogue",
                "error_ratio: 0.9",
                &format!("Record {i}"),
            )
        })
        .collect();
    store.replace_all(many).unwrap();
    assert_eq!(store.len(), 70);
    drop(store);
    let store = open(url, collection, None).unwrap();
    assert_eq!(store.len(), 70);
    assert!(store.get("inc-carts-pod").is_none());
    assert_eq!(store.get("r-069").unwrap().record.title, "Record 69");
}

#[test]
fn the_qdrant_backend_against_a_local_fake() {
    let fake = FakeQdrant::start(None);
    exercise(&fake.url, "kb-test");
    let collection = fake.collection("kb-test").unwrap();
    assert_eq!(collection.size, 64);
    for (field, schema) in [
        ("service", "keyword"),
        ("fault_class", "keyword"),
        ("tags", "keyword"),
        ("started", "datetime"),
        ("record_id", "keyword"),
        ("source", "keyword"),
    ] {
        assert_eq!(
            collection.indexes.get(field).map(String::as_str),
            Some(schema),
            "{field}"
        );
    }
    assert_eq!(collection.points.len(), 70);
    let point = collection.points.values().next().unwrap();
    assert!(point.sparse.as_ref().is_some_and(|(i, _)| !i.is_empty()));
    assert!(!point.dense.is_empty());
    let requests = fake.requests();
    assert!(
        requests
            .iter()
            .filter(|r| r.starts_with("PUT /collections/kb-test/points"))
            .all(|r| r.contains("wait=true")),
        "{requests:?}"
    );
    let scrolls = requests
        .iter()
        .filter(|r| r.ends_with("/points/scroll"))
        .count();
    assert!(
        scrolls >= 4,
        "the 70 records need two pages at the last open: {requests:?}"
    );
}

#[test]
fn qdrant_errors_name_the_url_and_what_to_do() {
    // 401: no key, then a wrong key; the key is never shown.
    let fake = FakeQdrant::start(Some("s3cret-key"));
    let error = open(&fake.url, "kb", None).unwrap_err().to_string();
    assert!(
        error.contains(&fake.url) && error.contains("HTTP 401") && error.contains("QDRANT_API_KEY"),
        "{error}"
    );
    let error = open(&fake.url, "kb", Some("wrong-key"))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("refused") && !error.contains("wrong-key"),
        "{error}"
    );
    let mut store = open(&fake.url, "kb", Some("s3cret-key")).unwrap();
    // 500 on an upsert: an error, nothing recorded as stored.
    fake.fail_next(500, "Service internal error: disk full");
    let error = store.upsert_batch(three()).unwrap_err().to_string();
    assert!(
        error.contains("HTTP 500: Service internal error: disk full")
            && error.contains("check its log"),
        "{error}"
    );
    assert_eq!(store.len(), 0);
    // 503 is retried.
    fake.fail_next(503, "busy");
    store.upsert_batch(three()).unwrap();
    assert_eq!(store.len(), 3);
    // 404: the collection vanished behind the store's back.
    fake.state.lock().unwrap().collections.remove("kb");
    let error = store
        .search(&SearchQuery {
            text: "carts".to_owned(),
            limit: 3,
            ..SearchQuery::default()
        })
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("HTTP 404")
            && error.contains("kb reindex")
            && error.contains("/collections/kb/points/query"),
        "{error}"
    );
    assert!(!format!("{store:?}").contains("s3cret"), "{store:?}");
    // A collection of another shape is refused with advice.
    drop(store);
    let mut other = QdrantStore::open(
        settings(&fake.url, "kb2", Some("s3cret-key")),
        Box::new(HashedBagOfWords::new(32)),
    )
    .unwrap();
    other.upsert_batch(three()).unwrap();
    drop(other);
    let error = open(&fake.url, "kb2", Some("s3cret-key"))
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("size 32")
            && error.contains("size 64")
            && error.contains("another collection"),
        "{error}"
    );
    // Nobody listening.
    let port = super::support::free_port();
    let error = open(&format!("http://127.0.0.1:{port}"), "kb", None)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("cannot connect") && error.contains("is Qdrant running"),
        "{error}"
    );
    // A collection name that would escape the URL path.
    let error = open(&fake.url, "../x", None).unwrap_err().to_string();
    assert!(error.contains("collection name"), "{error}");
}

fn baynet(data: &Path, url: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_baynet"))
        .env("XDG_DATA_HOME", data)
        .env("XDG_CONFIG_HOME", data.join("config"))
        .env_remove("BAYNET_CONFIG")
        .env_remove("BAYNET_KB_DIR")
        .env_remove("BAYNET_KB_BACKEND")
        .env_remove("BAYNET_QDRANT_COLLECTION")
        .env("BAYNET_CURATED_KB", "")
        .env("BAYNET_KB_EMBEDDER", "hashed")
        .env("QDRANT_URL", url)
        .env("QDRANT_API_KEY", "team-key-1")
        .arg("kb")
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn kb_commands_move_a_knowledge_base_between_qdrant_and_the_embedded_store() {
    let fake = FakeQdrant::start(Some("team-key-1"));
    let data = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    for (i, s) in three().iter().enumerate() {
        let path = files.path().join(format!("{i}.md"));
        std::fs::write(
            &path,
            markdown(
                &s.record.id,
                &s.record.fault_class,
                &s.record.root_cause_service,
                "health: 0.9",
                &s.record.title,
            ),
        )
        .unwrap();
        paths.push(path.to_string_lossy().into_owned());
    }
    let q = |args: &[&str]| {
        let mut all = vec!["--backend", "qdrant"];
        all.extend_from_slice(args);
        baynet(data.path(), &fake.url, &all)
    };
    let mut add = vec!["add"];
    add.extend(paths.iter().map(String::as_str));
    let out = ok(&q(&add));
    assert_eq!(
        out.lines().filter(|l| l.starts_with("added ")).count(),
        3,
        "{out}"
    );
    assert_eq!(fake.collection("baynet-knowledge").unwrap().points.len(), 3);
    let hits: serde_json::Value = serde_json::from_str(&ok(&q(&[
        "search",
        "crash loop",
        "--fault",
        "pod-failure",
        "--json",
    ])))
    .unwrap();
    let hits = hits.as_array().unwrap();
    assert_eq!(hits[0]["id"], "inc-user-pod", "{hits:?}");
    assert!(hits.iter().all(|h| h["fault_class"] == "pod-failure"));
    ok(&q(&["rm", "inc-orders-cpu"]));
    assert_eq!(fake.collection("baynet-knowledge").unwrap().points.len(), 2);
    // Export from Qdrant, import into the embedded store of another knowledge directory.
    let export = data.path().join("kb.jsonl");
    let export_arg = export.to_string_lossy().into_owned();
    ok(&q(&["export", "--out", &export_arg]));
    assert_eq!(std::fs::read_to_string(&export).unwrap().lines().count(), 2);
    let other = data.path().join("other-kb");
    let other_arg = other.to_string_lossy().into_owned();
    let out = ok(&baynet(
        data.path(),
        &fake.url,
        &[
            "--kb-dir",
            &other_arg,
            "--backend",
            "embedded",
            "import",
            &export_arg,
        ],
    ));
    assert_eq!(
        out.lines().filter(|l| l.starts_with("imported ")).count(),
        2,
        "{out}"
    );
    let listed: serde_json::Value = serde_json::from_str(&ok(&baynet(
        data.path(),
        &fake.url,
        &["--kb-dir", &other_arg, "list", "--json"],
    )))
    .unwrap();
    let listed: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["inc-carts-pod", "inc-user-pod"]);
    assert!(
        other.join(".baynet-store").join("kb.redb").is_file(),
        "the store follows --kb-dir"
    );
    // Reindex rebuilds the collection from the Markdown files.
    let report: serde_json::Value = serde_json::from_str(&ok(&q(&["reindex", "--json"]))).unwrap();
    assert_eq!(report["indexed"], 2);
    assert_eq!(fake.collection("baynet-knowledge").unwrap().points.len(), 2);
    // A wrong key: a clear error, the key not printed.
    let output = Command::new(env!("CARGO_BIN_EXE_baynet"))
        .env("XDG_DATA_HOME", data.path())
        .env("BAYNET_CURATED_KB", "")
        .env("BAYNET_KB_EMBEDDER", "hashed")
        .env("QDRANT_URL", &fake.url)
        .env("QDRANT_API_KEY", "not-the-key-42")
        .args(["kb", "--backend", "qdrant", "list"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("HTTP 401")
            && stderr.contains(&fake.url)
            && !stderr.contains("not-the-key-42"),
        "{stderr}"
    );
}

#[test]
fn the_qdrant_backend_against_a_real_qdrant() {
    let Some(url) = std::env::var("QDRANT_URL").ok().filter(|u| !u.is_empty()) else {
        assert!(
            std::env::var_os("BAYNET_REQUIRE_QDRANT").is_none(),
            "BAYNET_REQUIRE_QDRANT is set but QDRANT_URL is not"
        );
        crate::support::say(
            "SKIPPED: QDRANT_URL not set (a real Qdrant, e.g. http://localhost:6333, runs this test)",
        );
        return;
    };
    let collection = format!("baynet-it-{}", std::process::id());
    exercise(&url, &collection);
    // Clean up the test collection.
    let _ = ureq::delete(&format!(
        "{}/collections/{collection}",
        url.trim_end_matches('/')
    ))
    .call();
}
