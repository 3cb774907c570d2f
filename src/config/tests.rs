#![allow(clippy::unwrap_used)]
use super::*;
use std::collections::HashMap;

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |name| map.get(name).cloned()
}

fn invalid_field(error: ConfigError) -> (String, String) {
    match error {
        ConfigError::Invalid { field, message, .. } => (field, message),
        other => panic!("expected Invalid, got {other}"),
    }
}

#[test]
fn the_shipped_example_parses() {
    let text = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/config.example.toml"));
    let env = env_of(&[("GRAFANA_TOKEN", "glsa_secret_value")]);
    let config = parse_toml(text, Some(Path::new("config.example.toml")), &env).unwrap();
    assert_eq!(config.namespace, "sock-shop");
    assert_eq!(config.labels.service, "name");
    assert_eq!(config.limits.max_points, 11_000);
    assert_eq!(config.limits.rate_window, Duration::from_secs(60));
    assert_eq!(config.limits.loki_chunk, Duration::from_secs(3600));
    assert_eq!(config.retry.base_delay, Duration::from_millis(250));
    let loki = config.loki.as_ref().unwrap();
    assert_eq!(loki.url, "http://localhost:3100");
    assert_eq!(loki.tenant.as_deref(), Some("sock-shop"));
    assert_eq!(config.tempo.as_ref().unwrap().search, TempoSearch::Auto);
    let prometheus = config.prometheus.as_ref().unwrap();
    assert!(prometheus.is_grafana_proxy());
    assert_eq!(prometheus.timeout, Duration::from_secs(60));
    let Auth::Bearer { token, origin } = &prometheus.auth else {
        panic!("expected bearer auth")
    };
    assert_eq!(token.expose(), "glsa_secret_value");
    assert_eq!(origin, "env GRAFANA_TOKEN");
    assert!(config.kiali.is_none());
    assert_eq!(
        config.console_keys.get("quit"),
        Some(&vec!["q".to_owned(), "F10".to_owned()])
    );
    crate::console::keys::Keymap::with_overrides(&config.console_keys).unwrap();
    // The secret never shows in Debug output or in descriptions.
    let debug = format!("{config:?}");
    assert!(!debug.contains("glsa_secret_value"), "{debug}");
    assert!(debug.contains("<redacted>"));
    assert!(!prometheus.auth.describe().contains("glsa"));
}

#[test]
fn a_missing_secret_variable_names_the_field() {
    let text = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/config.example.toml"));
    let (field, message) = invalid_field(parse_toml(text, None, &env_of(&[])).unwrap_err());
    assert_eq!(field, "prometheus.auth.token_env");
    assert!(message.contains("GRAFANA_TOKEN is not set"), "{message}");
}

#[test]
fn inline_secrets_and_unknown_keys_are_refused() {
    let env = env_of(&[]);
    let inline =
        "[loki]\nurl = \"http://l:3100\"\n[loki.auth]\ntype = \"bearer\"\ntoken = \"abc123\"\n";
    let error = parse_toml(inline, None, &env).unwrap_err();
    let text = error.to_string();
    assert!(!text.contains("abc123"), "{text}");
    let (field, message) = invalid_field(error);
    assert_eq!(field, "loki.auth.token");
    assert!(message.contains("token_env"));
    let typo = "[loki]\nurll = \"http://l:3100\"\n";
    let ConfigError::Parse { message, .. } = parse_toml(typo, None, &env).unwrap_err() else {
        panic!("expected a parse error")
    };
    assert!(message.contains("urll"), "{message}");
    let bad_toml = "namespace = ";
    assert!(matches!(
        parse_toml(bad_toml, None, &env),
        Err(ConfigError::Parse { .. })
    ));
}

#[test]
fn values_are_validated_with_their_field() {
    let env = env_of(&[]);
    let cases = [
        ("[loki]\ntenant = \"x\"\n", "loki.url"),
        ("[loki]\nurl = \"loki:3100\"\n", "loki.url"),
        ("[loki]\nurl = \"ftp://loki\"\n", "loki.url"),
        ("[loki]\nurl = \"http://u:p@loki\"\n", "loki.url"),
        (
            "[loki]\nurl = \"http://loki\"\ntimeout = \"soon\"\n",
            "loki.timeout",
        ),
        (
            "[loki]\nurl = \"http://loki\"\ntimeout = \"0s\"\n",
            "loki.timeout",
        ),
        (
            "[loki]\nurl = \"http://loki\"\nsearch = \"tags\"\n",
            "loki.search",
        ),
        (
            "[tempo]\nurl = \"http://t\"\nsearch = \"fast\"\n",
            "tempo.search",
        ),
        (
            "[loki]\nurl = \"http://l\"\nca_file = \"/nonexistent/ca.pem\"\n",
            "loki.ca_file",
        ),
        (
            "[loki]\nurl = \"http://l\"\ntenant = \"a\\nb\"\n",
            "loki.tenant",
        ),
        (
            "[loki]\nurl = \"http://l\"\n[loki.auth]\ntype = \"magic\"\n",
            "loki.auth.type",
        ),
        (
            "[loki]\nurl = \"http://l\"\n[loki.auth]\ntype = \"bearer\"\n",
            "loki.auth",
        ),
        (
            "[loki]\nurl = \"http://l\"\n[loki.auth]\ntype = \"basic\"\npassword_env = \"P\"\n",
            "loki.auth.username",
        ),
        (
            "[kiali]\nurl = \"http://k\"\n[kiali.auth]\ntype = \"bearer\"\ntoken_file = \"/nonexistent/t\"\n",
            "kiali.auth.token_file",
        ),
        ("[limits]\nmax_points = 0\n", "limits.max_points"),
        ("[limits]\nrate_window = \"often\"\n", "limits.rate_window"),
        (
            "[limits]\ntrace_fetch_concurrency = 1000\n",
            "limits.trace_fetch_concurrency",
        ),
        (
            "[retry]\nbase_delay = \"20s\"\nmax_delay = \"1s\"\n",
            "retry.base_delay",
        ),
        ("[labels]\nworkload = \"pod\"\n", "labels.workload"),
        ("[labels]\nservice = \"na\\\"me\"\n", "labels.service"),
        ("namespace = \"\"\n", "namespace"),
    ];
    for (text, expected) in cases {
        let (field, message) = invalid_field(parse_toml(text, None, &env).unwrap_err());
        assert_eq!(field, expected, "{text}: {message}");
        assert!(!message.is_empty());
    }
}

#[test]
fn secrets_from_files_and_basic_auth() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pw"), "s3cret-pass\n").unwrap();
    std::fs::write(dir.path().join("empty"), "\n").unwrap();
    let file = dir.path().join("config.toml");
    let text = "[kiali]\nurl = \"http://kiali:20001/kiali/\"\n[kiali.auth]\ntype = \"basic\"\nusername = \"admin\"\npassword_file = \"pw\"\n";
    let config = parse_toml(text, Some(&file), &env_of(&[])).unwrap();
    let kiali = config.kiali.unwrap();
    assert_eq!(
        kiali.url, "http://kiali:20001/kiali",
        "trailing slash trimmed"
    );
    let Auth::Basic {
        username, password, ..
    } = &kiali.auth
    else {
        panic!("expected basic auth")
    };
    assert_eq!(username, "admin");
    assert_eq!(
        password.expose(),
        "s3cret-pass",
        "relative to the file, trimmed"
    );
    assert!(!format!("{kiali:?}").contains("s3cret"));
    let empty = text.replace("\"pw\"", "\"empty\"");
    let (field, message) =
        invalid_field(parse_toml(&empty, Some(&file), &env_of(&[])).unwrap_err());
    assert_eq!(field, "kiali.auth.password_file");
    assert!(message.contains("empty"));
}

#[test]
fn environment_and_flags_override_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.toml");
    std::fs::write(
        &file,
        "namespace = \"shop\"\n[loki]\nurl = \"http://file-loki:3100\"\ntenant = \"t1\"\n",
    )
    .unwrap();
    let env = env_of(&[
        ("BAYNET_LOKI_URL", "http://env-loki:3100"),
        ("BAYNET_LOKI_TOKEN", "tok-from-env"),
        ("BAYNET_TEMPO_URL", "http://env-tempo:3200"),
        ("BAYNET_NAMESPACE", "sock-shop"),
    ]);
    let config = load(Some(&file), &Overrides::default(), &env).unwrap();
    let loki = config.loki.as_ref().unwrap();
    assert_eq!(loki.url, "http://env-loki:3100");
    assert_eq!(
        loki.tenant.as_deref(),
        Some("t1"),
        "the file's tenant stays"
    );
    assert!(matches!(&loki.auth, Auth::Bearer { token, .. } if token.expose() == "tok-from-env"));
    assert_eq!(config.tempo.as_ref().unwrap().url, "http://env-tempo:3200");
    assert_eq!(config.namespace, "sock-shop");
    let overrides = Overrides {
        loki: Some("http://flag-loki:3100/".into()),
        prometheus: Some("http://127.0.0.1:9090".into()),
        namespace: Some("other".into()),
        ..Overrides::default()
    };
    let config = load(Some(&file), &overrides, &env).unwrap();
    assert_eq!(config.loki.as_ref().unwrap().url, "http://flag-loki:3100");
    assert_eq!(
        config.prometheus.as_ref().unwrap().url,
        "http://127.0.0.1:9090"
    );
    assert_eq!(config.namespace, "other");
    assert!(config.namespace_configured);
    let unset = load(None, &Overrides::default(), &env_of(&[])).unwrap();
    assert_eq!(
        (unset.namespace.as_str(), unset.namespace_configured),
        ("default", false)
    );
    let from_file = load(Some(&file), &Overrides::default(), &env_of(&[])).unwrap();
    assert_eq!(
        (from_file.namespace.as_str(), from_file.namespace_configured),
        ("shop", true)
    );
    let from_env = load(
        None,
        &Overrides::default(),
        &env_of(&[("BAYNET_NAMESPACE", "e")]),
    )
    .unwrap();
    assert!(from_env.namespace_configured);
    let bad = Overrides {
        tempo: Some("not a url".into()),
        ..Overrides::default()
    };
    let (field, _) = invalid_field(load(Some(&file), &bad, &env).unwrap_err());
    assert_eq!(field, "--tempo");
    let (field, _) = invalid_field(
        load(
            Some(&file),
            &Overrides::default(),
            &env_of(&[("BAYNET_KIALI_TENANT", "x")]),
        )
        .unwrap_err(),
    );
    assert_eq!(field, "BAYNET_KIALI_TENANT");
}

#[test]
fn default_file_may_be_missing_but_an_explicit_one_must_exist() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().to_str().unwrap().to_owned();
    let env = env_of(&[("HOME", &home)]);
    let config = load(None, &Overrides::default(), &env).unwrap();
    assert!(!config.has_sources());
    assert!(config.file.is_none());
    let missing = dir.path().join("nope.toml");
    assert!(matches!(
        load(Some(&missing), &Overrides::default(), &env),
        Err(ConfigError::Io { .. })
    ));
    let cfg_dir = dir.path().join(".config/baynet");
    std::fs::create_dir_all(&cfg_dir).unwrap();
    std::fs::write(
        cfg_dir.join("config.toml"),
        "[tempo]\nurl = \"http://t:3200\"\n",
    )
    .unwrap();
    let config = load(None, &Overrides::default(), &env).unwrap();
    assert_eq!(config.tempo.unwrap().url, "http://t:3200");
    assert_eq!(
        default_path(&env_of(&[("XDG_CONFIG_HOME", "/x")])),
        Some(PathBuf::from("/x/baynet/config.toml"))
    );
}

#[test]
fn knowledge_backend_from_file_then_environment_and_no_inline_key() {
    let text = "[knowledge]\nbackend = \"qdrant\"\nqdrant_url = \"http://qdrant:6333/\"\n\
                collection = \"team-kb\"\nqdrant_api_key_env = \"MY_KEY\"\nqdrant_timeout = \"5s\"\n";
    let env = env_of(&[("MY_KEY", "k-123")]);
    let config = load_text(text, &env);
    let k = &config.knowledge;
    assert_eq!(k.backend, KbBackend::Qdrant);
    assert_eq!(k.qdrant_url.as_deref(), Some("http://qdrant:6333"));
    assert_eq!(k.collection.as_deref(), Some("team-kb"));
    assert_eq!(k.qdrant_api_key.as_ref().map(Secret::expose), Some("k-123"));
    assert_eq!(k.qdrant_api_key_origin.as_deref(), Some("env MY_KEY"));
    assert_eq!(k.qdrant_timeout, Duration::from_secs(5));
    assert!(
        !format!("{config:?}").contains("k-123"),
        "the key is redacted"
    );
    // The environment wins over the file.
    let env = env_of(&[
        ("MY_KEY", "k-123"),
        ("BAYNET_KB_BACKEND", "embedded"),
        ("QDRANT_URL", "https://q.example:6333"),
        ("BAYNET_QDRANT_COLLECTION", "other"),
        ("QDRANT_API_KEY", "k-env"),
    ]);
    let config = load_text(text, &env);
    let k = &config.knowledge;
    assert_eq!(k.backend, KbBackend::Embedded);
    assert_eq!(k.qdrant_url.as_deref(), Some("https://q.example:6333"));
    assert_eq!(k.collection.as_deref(), Some("other"));
    assert_eq!(k.qdrant_api_key.as_ref().map(Secret::expose), Some("k-env"));
    // Defaults.
    let config = load_text("", &env_of(&[]));
    assert_eq!(config.knowledge, KnowledgeSettings::default());
    // Errors name the field.
    let none = env_of(&[]);
    for (text, field) in [
        (
            "[knowledge]\nqdrant_api_key = \"x\"\n",
            "knowledge.qdrant_api_key",
        ),
        ("[knowledge]\nbackend = \"sled\"\n", "knowledge.backend"),
        (
            "[knowledge]\ncollection = \"a/b\"\n",
            "knowledge.collection",
        ),
        (
            "[knowledge]\nqdrant_url = \"ftp://x\"\n",
            "knowledge.qdrant_url",
        ),
        (
            "[knowledge]\nqdrant_api_key_env = \"UNSET\"\n",
            "knowledge.qdrant_api_key_env",
        ),
    ] {
        let error = parse_toml(text, None, &none).unwrap_err();
        assert_eq!(invalid_field(error).0, field, "{text}");
    }
    let error = load(
        None,
        &Overrides::default(),
        &env_of(&[("BAYNET_KB_BACKEND", "x")]),
    );
    assert_eq!(invalid_field(error.unwrap_err()).0, "BAYNET_KB_BACKEND");
    assert!(parse_toml("[knowledge]\nbakend = \"qdrant\"\n", None, &none).is_err());
}

fn load_text(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Config {
    let mut config = parse_toml(text, None, env).unwrap();
    apply_env(&mut config, env).unwrap();
    config
}
