//! Qdrant's REST protocol, the subset the backend uses (pure): request bodies, point ids,
//! payloads, filters, and the parsing of responses and error bodies.
//!
//! The collection: a named dense vector `dense` (cosine, one vector per summary and body chunk
//! as a multivector compared with `max_sim`, which for a one-vector query is the best-matching
//! chunk, as in the embedded store) and a named sparse vector `text` with `modifier: "idf"`.
//! Payload: `record_id`, `service` (root cause and affected), `fault_class`, `tags`, `source`,
//! `started` (RFC 3339), each with a payload index, plus `embedder`, `hash` and `stored` (the
//! whole record, so `get`/`list` and a re-import need nothing else).

use crate::knowledge::retrieval::{SearchQuery, StoredRecord, epoch_secs};
use crate::knowledge::sparse::SparseVector;
use serde_json::{Value, json};

/// The dense vector's name.
pub const DENSE: &str = "dense";
/// The sparse vector's name.
pub const SPARSE: &str = "text";

/// The payload indexes created with the collection: field and schema.
pub const PAYLOAD_INDEXES: [(&str, &str); 6] = [
    ("record_id", "keyword"),
    ("service", "keyword"),
    ("fault_class", "keyword"),
    ("tags", "keyword"),
    ("source", "keyword"),
    ("started", "datetime"),
];

/// The point id of a record: a UUID made of the first 16 bytes of SHA-256 of the id (version
/// and variant bits set as for a name-based UUID), so every client maps an id to one point.
#[must_use]
pub fn point_id(record_id: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(record_id.as_bytes());
    let mut bytes = [0_u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x50;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Whether `name` is acceptable as a collection name (it goes into URL paths).
#[must_use]
pub fn valid_collection(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with('.')
}

/// `PUT /collections/{name}`.
#[must_use]
pub fn create_collection(dimension: usize) -> Value {
    json!({
        "vectors": {
            DENSE: {
                "size": dimension,
                "distance": "Cosine",
                "multivector_config": {"comparator": "max_sim"},
            }
        },
        "sparse_vectors": {
            SPARSE: {"modifier": "idf"}
        },
    })
}

/// `PUT /collections/{name}/index`.
#[must_use]
pub fn create_index(field: &str, schema: &str) -> Value {
    json!({"field_name": field, "field_schema": schema})
}

/// The payload of a record.
#[must_use]
pub fn payload(stored: &StoredRecord, embedder: &str) -> Value {
    let record = &stored.record;
    let mut services: Vec<&str> = Vec::new();
    if !record.root_cause_service.is_empty() {
        services.push(&record.root_cause_service);
    }
    for service in &record.affected_services {
        if !services.contains(&service.as_str()) {
            services.push(service);
        }
    }
    let mut payload = json!({
        "record_id": record.id,
        "title": record.title,
        "service": services,
        "fault_class": record.fault_class,
        "tags": record.tags,
        "source": record.source.as_str(),
        "embedder": embedder,
        "hash": stored.hash,
        "stored": stored,
    });
    if let Some(started) = record
        .started
        .as_deref()
        .filter(|t| epoch_secs(t).is_some())
        && let Some(map) = payload.as_object_mut()
    {
        map.insert("started".to_owned(), json!(started.trim()));
    }
    payload
}

/// One point: id, both vectors, payload.
#[must_use]
pub fn point(
    stored: &StoredRecord,
    dense: &[Vec<f32>],
    sparse: &SparseVector,
    embedder: &str,
) -> Value {
    let mut vector = serde_json::Map::new();
    vector.insert(DENSE.to_owned(), json!(dense));
    if !sparse.is_empty() {
        vector.insert(
            SPARSE.to_owned(),
            json!({"indices": sparse.indices, "values": sparse.values}),
        );
    }
    json!({
        "id": point_id(&stored.record.id),
        "vector": vector,
        "payload": payload(stored, embedder),
    })
}

/// `PUT /collections/{name}/points?wait=true`.
#[must_use]
pub fn upsert(points: Vec<Value>) -> Value {
    json!({ "points": points })
}

/// `POST /collections/{name}/points/delete?wait=true`.
#[must_use]
pub fn delete(record_ids: &[&str]) -> Value {
    let ids: Vec<String> = record_ids.iter().map(|id| point_id(id)).collect();
    json!({ "points": ids })
}

fn matches(key: &str, value: &str) -> Value {
    json!({"key": key, "match": {"value": value}})
}

/// The query's filters as a Qdrant filter (`None` when there is none).
#[must_use]
pub fn filter(query: &SearchQuery) -> Option<Value> {
    let mut must = Vec::new();
    let mut must_not = Vec::new();
    if let Some(service) = &query.service {
        must.push(matches("service", service));
    }
    if let Some(fault) = &query.fault_class {
        must.push(matches("fault_class", fault));
    }
    for tag in &query.tags {
        must.push(matches("tags", tag));
    }
    let mut range = serde_json::Map::new();
    if let Some(after) = query
        .started_after
        .as_deref()
        .filter(|t| epoch_secs(t).is_some())
    {
        range.insert("gte".to_owned(), json!(after.trim()));
    }
    if let Some(before) = query
        .started_before
        .as_deref()
        .filter(|t| epoch_secs(t).is_some())
    {
        range.insert("lt".to_owned(), json!(before.trim()));
    }
    if !range.is_empty() {
        must.push(json!({"key": "started", "range": range}));
    }
    if !query.exclude_sources.is_empty() {
        let sources: Vec<&str> = query.exclude_sources.iter().map(|s| s.as_str()).collect();
        must_not.push(json!({"key": "source", "match": {"any": sources}}));
    }
    if let Some(id) = &query.exclude_id {
        must_not.push(matches("record_id", id));
    }
    if must.is_empty() && must_not.is_empty() {
        return None;
    }
    let mut out = serde_json::Map::new();
    if !must.is_empty() {
        out.insert("must".to_owned(), Value::Array(must));
    }
    if !must_not.is_empty() {
        out.insert("must_not".to_owned(), Value::Array(must_not));
    }
    Some(Value::Object(out))
}

fn query_body(query: Value, using: &str, filter: Option<&Value>, limit: usize) -> Value {
    let mut body = json!({
        "query": query,
        "using": using,
        "limit": limit,
        "with_payload": ["record_id"],
        "with_vector": false,
    });
    if let (Some(filter), Some(map)) = (filter, body.as_object_mut()) {
        map.insert("filter".to_owned(), filter.clone());
    }
    body
}

/// `POST /collections/{name}/points/query` with the dense query vector (a one-vector
/// multivector, as the field is a multivector).
#[must_use]
pub fn query_dense(vector: &[f32], filter: Option<&Value>, limit: usize) -> Value {
    query_body(json!([vector]), DENSE, filter, limit)
}

/// `POST /collections/{name}/points/query` with the sparse query vector.
#[must_use]
pub fn query_sparse(vector: &SparseVector, filter: Option<&Value>, limit: usize) -> Value {
    query_body(
        json!({"indices": vector.indices, "values": vector.values}),
        SPARSE,
        filter,
        limit,
    )
}

/// `POST /collections/{name}/points/scroll`: a page of payloads, no vectors.
#[must_use]
pub fn scroll(offset: Option<&Value>, limit: usize) -> Value {
    let mut body = json!({"limit": limit, "with_payload": true, "with_vector": false});
    if let (Some(offset), Some(map)) = (offset, body.as_object_mut()) {
        map.insert("offset".to_owned(), offset.clone());
    }
    body
}

/// The message of an error response: `status.error` of a JSON body, else the text (shortened,
/// control characters dropped), else the HTTP status alone.
#[must_use]
pub fn error_message(status: u16, body: &[u8]) -> String {
    let from_json = serde_json::from_slice::<Value>(body).ok().and_then(|v| {
        v.pointer("/status/error")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| v.get("error").and_then(Value::as_str).map(str::to_owned))
    });
    let text = from_json.unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(300)
        .collect();
    let clean = clean.trim();
    if clean.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status}: {clean}")
    }
}

fn result(body: &[u8]) -> Result<Value, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("the answer is not JSON ({e})"))?;
    if let Some(error) = value.pointer("/status/error").and_then(Value::as_str) {
        return Err(error.to_owned());
    }
    value
        .get("result")
        .cloned()
        .ok_or_else(|| "the answer has no `result`".to_owned())
}

/// The record ids of a query answer (`result.points[].payload.record_id`), best first.
///
/// # Errors
/// When the answer is not of that shape.
pub fn query_ids(body: &[u8]) -> Result<Vec<String>, String> {
    let result = result(body)?;
    let points = result
        .get("points")
        .or(Some(&result))
        .and_then(Value::as_array)
        .ok_or_else(|| "the answer has no `result.points` list".to_owned())?;
    Ok(points
        .iter()
        .filter_map(|p| p.pointer("/payload/record_id").and_then(Value::as_str))
        .map(str::to_owned)
        .collect())
}

/// One scrolled point.
#[derive(Debug, Clone, PartialEq)]
pub struct Scrolled {
    /// The point id as Qdrant gave it.
    pub id: Value,
    /// The payload.
    pub payload: Value,
}

/// A scroll page: the points and the next page's offset (`None` at the end).
///
/// # Errors
/// When the answer is not of that shape.
pub fn scroll_page(body: &[u8]) -> Result<(Vec<Scrolled>, Option<Value>), String> {
    let result = result(body)?;
    let points = result
        .get("points")
        .and_then(Value::as_array)
        .ok_or_else(|| "the answer has no `result.points` list".to_owned())?;
    let page = points
        .iter()
        .map(|p| Scrolled {
            id: p.get("id").cloned().unwrap_or(Value::Null),
            payload: p.get("payload").cloned().unwrap_or(Value::Null),
        })
        .collect();
    let next = result
        .get("next_page_offset")
        .filter(|v| !v.is_null())
        .cloned();
    Ok((page, next))
}

/// A point's record and the embedder its vectors came from.
///
/// # Errors
/// When the payload lacks `stored` or it does not decode, or its id disagrees with
/// `record_id`.
pub fn stored_of(payload: &Value) -> Result<(StoredRecord, String), String> {
    let stored = payload
        .get("stored")
        .ok_or_else(|| "the payload has no `stored` record".to_owned())?;
    let stored: StoredRecord =
        serde_json::from_value(stored.clone()).map_err(|e| format!("`stored`: {e}"))?;
    if let Some(id) = payload.get("record_id").and_then(Value::as_str)
        && id != stored.record.id
    {
        return Err(format!(
            "`record_id` {id} differs from the stored record's id {}",
            stored.record.id
        ));
    }
    let embedder = payload
        .get("embedder")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    Ok((stored, embedder))
}

/// What the backend checks of an existing collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectionInfo {
    /// The dense vector's size, if there is a `dense` vector.
    pub dense_size: Option<usize>,
    /// Whether `dense` is a multivector.
    pub multivector: bool,
    /// Whether there is a `text` sparse vector.
    pub sparse: bool,
    /// Points, when reported.
    pub points: Option<u64>,
}

/// Parses `GET /collections/{name}`.
///
/// # Errors
/// When the answer is not of that shape.
pub fn collection_info(body: &[u8]) -> Result<CollectionInfo, String> {
    let result = result(body)?;
    let params = result
        .pointer("/config/params")
        .ok_or_else(|| "the answer has no `result.config.params`".to_owned())?;
    let dense = params.pointer(&format!("/vectors/{DENSE}"));
    Ok(CollectionInfo {
        dense_size: dense
            .and_then(|d| d.get("size"))
            .and_then(Value::as_u64)
            .and_then(|s| usize::try_from(s).ok()),
        multivector: dense
            .is_some_and(|d| d.get("multivector_config").is_some_and(|m| !m.is_null())),
        sparse: params
            .pointer(&format!("/sparse_vectors/{SPARSE}"))
            .is_some(),
        points: result.get("points_count").and_then(Value::as_u64),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::knowledge::record::{Source, parse};
    use std::path::{Path, PathBuf};

    fn stored() -> StoredRecord {
        let text = "---\nid: inc-1\ntitle: \"Carts down\"\nstarted: 2026-03-01T10:00:00Z\n\
                    source: live-incident\nfault_class: pod-failure\nroot_cause_service: carts\n\
                    affected_services: [front-end, carts]\ntags: [prod]\n---\n\nBody.\n";
        let record = parse(Path::new("x.md"), text).unwrap();
        StoredRecord {
            path: PathBuf::from("/kb/inc-1.md"),
            hash: "h".to_owned(),
            body: record.body.clone(),
            record,
        }
    }

    #[test]
    fn point_ids_are_stable_uuids() {
        let id = point_id("inc-1");
        assert_eq!(id, point_id("inc-1"));
        assert_ne!(id, point_id("inc-2"));
        assert_eq!(id.len(), 36);
        let parts: Vec<&str> = id.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('5'), "{id}");
        assert!("89ab".contains(&parts[3][..1]), "{id}");
    }

    #[test]
    fn collection_and_points_bodies() {
        let body = create_collection(384);
        assert_eq!(body["vectors"]["dense"]["size"], 384);
        assert_eq!(body["vectors"]["dense"]["distance"], "Cosine");
        assert_eq!(
            body["vectors"]["dense"]["multivector_config"]["comparator"],
            "max_sim"
        );
        assert_eq!(body["sparse_vectors"]["text"]["modifier"], "idf");
        assert_eq!(
            create_index("started", "datetime"),
            json!({"field_name": "started", "field_schema": "datetime"})
        );
        let s = stored();
        let sparse = SparseVector {
            indices: vec![3, 9],
            values: vec![0.5, 1.5],
        };
        let p = point(
            &s,
            &[vec![1.0, 0.0], vec![0.0, 1.0]],
            &sparse,
            "hashed-bow-2",
        );
        assert_eq!(p["id"], point_id("inc-1"));
        assert_eq!(p["vector"]["dense"], json!([[1.0, 0.0], [0.0, 1.0]]));
        assert_eq!(
            p["vector"]["text"],
            json!({"indices": [3, 9], "values": [0.5, 1.5]})
        );
        let payload = &p["payload"];
        assert_eq!(payload["service"], json!(["carts", "front-end"]));
        assert_eq!(payload["fault_class"], "pod-failure");
        assert_eq!(payload["started"], "2026-03-01T10:00:00Z");
        assert_eq!(payload["source"], "live-incident");
        let (back, embedder) = stored_of(payload).unwrap();
        assert_eq!(embedder, "hashed-bow-2");
        assert_eq!(
            (back.postmortem(), &back.path, &back.hash),
            (s.postmortem(), &s.path, &s.hash)
        );
        // An empty sparse vector is left out (Qdrant refuses empty ones on some versions).
        let p = point(&stored(), &[vec![1.0]], &SparseVector::default(), "e");
        assert!(p["vector"].get("text").is_none());
        assert_eq!(delete(&["inc-1"]), json!({"points": [point_id("inc-1")]}));
    }

    #[test]
    fn filters_translate_every_query_field() {
        assert_eq!(filter(&SearchQuery::default()), None);
        let query = SearchQuery {
            service: Some("carts".into()),
            fault_class: Some("pod-failure".into()),
            tags: vec!["a".into(), "b".into()],
            started_after: Some("2026-01-01T00:00:00Z".into()),
            started_before: Some("not a time".into()),
            exclude_sources: vec![Source::Notes, Source::Playbook],
            exclude_id: Some("inc-1".into()),
            ..SearchQuery::default()
        };
        let f = filter(&query).unwrap();
        assert_eq!(
            f,
            json!({
                "must": [
                    {"key": "service", "match": {"value": "carts"}},
                    {"key": "fault_class", "match": {"value": "pod-failure"}},
                    {"key": "tags", "match": {"value": "a"}},
                    {"key": "tags", "match": {"value": "b"}},
                    {"key": "started", "range": {"gte": "2026-01-01T00:00:00Z"}},
                ],
                "must_not": [
                    {"key": "source", "match": {"any": ["notes", "playbook"]}},
                    {"key": "record_id", "match": {"value": "inc-1"}},
                ],
            })
        );
        let body = query_dense(&[0.5, 0.5], Some(&f), 50);
        assert_eq!(body["query"], json!([[0.5, 0.5]]));
        assert_eq!(body["using"], "dense");
        assert_eq!(body["limit"], 50);
        assert_eq!(body["filter"], f);
        let sparse = SparseVector {
            indices: vec![1],
            values: vec![1.0],
        };
        let body = query_sparse(&sparse, None, 7);
        assert_eq!(body["query"], json!({"indices": [1], "values": [1.0]}));
        assert_eq!(body["using"], "text");
        assert!(body.get("filter").is_none());
        assert_eq!(
            scroll(None, 64),
            json!({"limit": 64, "with_payload": true, "with_vector": false})
        );
        assert_eq!(scroll(Some(&json!("abc")), 8)["offset"], "abc");
    }

    #[test]
    fn responses_and_error_bodies_parse() {
        assert_eq!(
            error_message(
                404,
                br#"{"status":{"error":"Not found: Collection `kb` doesn't exist!"},"time":0.0}"#
            ),
            "HTTP 404: Not found: Collection `kb` doesn't exist!"
        );
        assert_eq!(
            error_message(401, b"Must provide an API key\n"),
            "HTTP 401: Must provide an API key"
        );
        assert_eq!(error_message(500, b""), "HTTP 500");
        assert_eq!(error_message(502, b"\x1b[31mbad\x07"), "HTTP 502: [31mbad");
        let answer = br#"{"result":{"points":[{"id":"u1","score":0.9,"payload":{"record_id":"a"}},
            {"id":"u2","score":0.5,"payload":{"record_id":"b"}},{"id":"u3","score":0.1}]},"status":"ok","time":0.001}"#;
        assert_eq!(query_ids(answer).unwrap(), ["a", "b"]);
        assert!(
            query_ids(br#"{"status":{"error":"Wrong input: Not existing vector name"}}"#)
                .unwrap_err()
                .contains("Not existing vector name")
        );
        assert!(query_ids(b"<html>").unwrap_err().contains("not JSON"));
        assert!(query_ids(br#"{"result":{"hits":[]}}"#).is_err());
        let page = br#"{"result":{"points":[{"id":"u1","payload":{"record_id":"a"}}],"next_page_offset":"u2"},"status":"ok"}"#;
        let (points, next) = scroll_page(page).unwrap();
        assert_eq!(points.len(), 1);
        assert_eq!(points[0].id, json!("u1"));
        assert_eq!(next, Some(json!("u2")));
        let last = br#"{"result":{"points":[],"next_page_offset":null}}"#;
        assert_eq!(scroll_page(last).unwrap(), (Vec::new(), None));
        assert!(
            stored_of(&json!({"record_id": "a"}))
                .unwrap_err()
                .contains("no `stored`")
        );
        let mut payload = payload(&stored(), "e");
        payload["record_id"] = json!("other");
        assert!(stored_of(&payload).unwrap_err().contains("differs"));
        let info = br#"{"result":{"status":"green","points_count":3,"config":{"params":{
            "vectors":{"dense":{"size":384,"distance":"Cosine","multivector_config":{"comparator":"max_sim"}}},
            "sparse_vectors":{"text":{"modifier":"idf"}}}}},"status":"ok"}"#;
        assert_eq!(
            collection_info(info).unwrap(),
            CollectionInfo {
                dense_size: Some(384),
                multivector: true,
                sparse: true,
                points: Some(3)
            }
        );
        let other = br#"{"result":{"config":{"params":{"vectors":{"size":4,"distance":"Dot"}}}}}"#;
        assert_eq!(
            collection_info(other).unwrap(),
            CollectionInfo {
                dense_size: None,
                multivector: false,
                sparse: false,
                points: None
            }
        );
    }

    #[test]
    fn collection_names_are_checked() {
        assert!(valid_collection("baynet-knowledge"));
        assert!(valid_collection("team_kb.v2"));
        assert!(!valid_collection(""));
        assert!(!valid_collection("../x"));
        assert!(!valid_collection("a/b"));
        assert!(!valid_collection("a b"));
    }
}
