//! Clients that hold the server's sockets: half-sent headers and bodies, idle connections, bodies declared too large.
//! Spoken over raw sockets, since a well-behaved HTTP client cannot misbehave on purpose.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use roster::clock::SystemClock;
use roster::config::Config;
use roster::store::Backend;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn config(max_connections: usize, header_seconds: u64) -> Config {
    Config {
        header_read_timeout_seconds: header_seconds,
        body_read_timeout_seconds: 1,
        max_connections,
        max_connections_per_address: max_connections,
        ..Config::default()
    }
}

async fn connect(server: &common::Server) -> TcpStream {
    TcpStream::connect(server.base.trim_start_matches("http://")).await.unwrap()
}

/// A connection from another loopback address (Linux answers all of 127.0.0.0/8): another client, as the server
/// counts them.
async fn connect_from(server: &common::Server, address: [u8; 4]) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(std::net::SocketAddr::from((address, 0))).unwrap();
    socket.connect(server.base.trim_start_matches("http://").parse().unwrap()).await.unwrap()
}

/// Ask `path` over a fresh connection from `address` and read the answer to its end.
async fn ask_from(server: &common::Server, address: [u8; 4], path: &str) -> String {
    let mut stream = connect_from(server, address).await;
    let request = format!(
        "GET {path} HTTP/1.1\r\nhost: test\r\nauthorization: Bearer {}\r\nconnection: close\r\n\r\n",
        server.root_key
    );
    // a refused connection may be closed before the request is written: its answer is still there to read
    let _ = stream.write_all(request.as_bytes()).await;
    read_to_close(&mut stream, Duration::from_secs(5)).await.expect("answered and closed")
}

/// Everything the server sends until it closes the connection, or `None` if it is still open after `wait`.
async fn read_to_close(stream: &mut TcpStream, wait: Duration) -> Option<String> {
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    let deadline = Instant::now() + wait;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        match tokio::time::timeout(left, stream.read(&mut buffer)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(String::from_utf8_lossy(&received).into_owned()),
            Ok(Ok(n)) => received.extend_from_slice(&buffer[..n]),
        }
    }
}

async fn half_sent_headers(backend: Backend) {
    let Some(server) = common::Server::start_with(backend, config(64, 1), Arc::new(SystemClock)).await else { return };
    let mut stream = connect(&server).await;
    stream.write_all(b"GET /healthz HTTP/1.1\r\nhost: test\r\nx-slow: ").await.unwrap();
    let started = Instant::now();
    let answer = read_to_close(&mut stream, Duration::from_secs(10)).await;
    assert!(answer.is_some(), "a connection with half-sent headers must be closed");
    assert!(started.elapsed() < Duration::from_secs(5), "closed after {:?}", started.elapsed());
    // and an idle connection that never sent anything is closed too
    let mut idle = connect(&server).await;
    assert!(read_to_close(&mut idle, Duration::from_secs(10)).await.is_some(), "an idle connection must be closed");
}
roster::backend_test!(half_sent_headers_and_idle_connections_are_closed_after_the_header_timeout, half_sent_headers);

async fn half_sent_body(backend: Backend) {
    let Some(server) = common::Server::start_with(backend, config(64, 5), Arc::new(SystemClock)).await else { return };
    for (path, key) in [
        ("/v1/tenants/default/auth/login", None),
        ("/v1/tenants/default/users", Some(server.root_key.as_str())),
        ("/v1/tenants/default/ingest/bugs", Some(server.root_key.as_str())),
    ] {
        let users = server.count("users").await;
        let mut stream = connect(&server).await;
        let auth = key.map(|k| format!("authorization: Bearer {k}\r\n")).unwrap_or_default();
        let head = format!(
            "POST {path} HTTP/1.1\r\nhost: test\r\n{auth}content-type: application/json\r\ncontent-length: 100\r\n\r\n\
             {{\"email\": \"slo"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let started = Instant::now();
        let answer = read_to_close(&mut stream, Duration::from_secs(10)).await.expect("answered and closed");
        assert!(answer.starts_with("HTTP/1.1 408"), "{path}: {answer}");
        assert!(answer.contains("application/problem+json") && answer.contains("request-timeout"), "{answer}");
        assert!(started.elapsed() < Duration::from_secs(5), "{path}: after {:?}", started.elapsed());
        assert_eq!(server.count("users").await, users, "nothing written");
    }
}
roster::backend_test!(a_half_sent_body_is_answered_408_and_closed, half_sent_body);

async fn declared_too_large(backend: Backend) {
    let Some(server) = common::Server::start_with(backend, config(64, 5), Arc::new(SystemClock)).await else { return };
    for (path, size) in [
        ("/v1/tenants/default/auth/login", 2 * 1024 * 1024),
        ("/v1/tenants/default/users", 1024 * 1024 + 1),
        ("/v1/tenants/default/ingest/bugs", 10 * 1024 * 1024 + 1),
    ] {
        let mut stream = connect(&server).await;
        let head = format!(
            "POST {path} HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\ncontent-length: {size}\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        // no body is sent: the answer must come from the declared length alone, and at once
        let answer = read_to_close(&mut stream, Duration::from_secs(2)).await.expect("answered at once and closed");
        assert!(answer.starts_with("HTTP/1.1 413"), "{path}: {answer}");
        assert!(answer.contains("payload-too-large"), "{answer}");
    }
}
roster::backend_test!(a_declared_content_length_over_the_limit_is_answered_413_at_once, declared_too_large);

async fn bounded_connections(backend: Backend) {
    // with a long header timeout, four idle connections take every slot: a fifth is answered at once — 503 for the
    // API, while the health checks still answer from the reserve
    let Some(server) = common::Server::start_with(backend, config(4, 30), Arc::new(SystemClock)).await else { return };
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(connect(&server).await);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let refused = ask_from(&server, [127, 0, 0, 2], "/v1/tenants/default/users").await;
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    assert!(refused.contains("application/problem+json") && refused.contains("connection limit"), "{refused}");
    for path in ["/healthz", "/readyz"] {
        let health = ask_from(&server, [127, 0, 0, 2], path).await;
        assert!(health.starts_with("HTTP/1.1 200"), "{path}: {health}");
    }
    // one slot frees, and the API answers again
    drop(idle.pop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let served = ask_from(&server, [127, 0, 0, 1], "/v1/tenants/default/users").await;
    assert!(served.starts_with("HTTP/1.1 200"), "{served}");

    // with a short header timeout, idle connections cannot keep the server from answering for long
    let Some(server) = common::Server::start_with(backend, config(4, 1), Arc::new(SystemClock)).await else { return };
    // (three clients' idle connections take every slot and the whole health reserve)
    let mut idle = Vec::new();
    for address in [[127, 0, 0, 1], [127, 0, 0, 2], [127, 0, 0, 3]] {
        for _ in 0..4 {
            idle.push(connect_from(&server, address).await);
        }
    }
    let started = Instant::now();
    loop {
        let answer = ask_from(&server, [127, 0, 0, 4], "/healthz").await;
        if answer.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(answer.starts_with("HTTP/1.1 503"), "refused at once while every slot is taken: {answer}");
        assert!(started.elapsed() < Duration::from_secs(10), "after {:?}", started.elapsed());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
roster::backend_test!(open_connections_are_bounded_and_idle_ones_cannot_starve_the_server, bounded_connections);

async fn one_address_cannot_starve_another(backend: Backend) {
    let config = Config { max_connections_per_address: 4, ..config(12, 30) };
    let Some(server) = common::Server::start_with(backend, config, Arc::new(SystemClock)).await else { return };
    // one client holds four half-sent requests: its fifth connection is refused at once, and it alone
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut stream = connect_from(&server, [127, 0, 0, 1]).await;
        stream.write_all(b"GET /healthz HTTP/1.1\r\nhost: te").await.unwrap();
        held.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let refused = ask_from(&server, [127, 0, 0, 1], "/healthz").await;
    assert!(refused.starts_with("HTTP/1.1 429"), "{refused}");
    assert!(refused.contains("too-many-connections") && refused.contains("retry-after"), "{refused}");
    let other = ask_from(&server, [127, 0, 0, 2], "/v1/tenants/default/users").await;
    assert!(other.starts_with("HTTP/1.1 200"), "another address is served: {other}");
    // two more clients fill every slot: the health checks still answer from the reserve
    for address in [[127, 0, 0, 2], [127, 0, 0, 3]] {
        for _ in 0..4 {
            held.push(connect_from(&server, address).await);
        }
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(ask_from(&server, [127, 0, 0, 4], "/v1/tenants/default/users").await.starts_with("HTTP/1.1 503"));
    let health = ask_from(&server, [127, 0, 0, 4], "/healthz").await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    // a client that lets go gets its slots back
    held.truncate(0);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(ask_from(&server, [127, 0, 0, 1], "/v1/tenants/default/users").await.starts_with("HTTP/1.1 200"));
}
roster::backend_test!(one_address_cannot_hold_every_connection_or_starve_another, one_address_cannot_starve_another);

async fn oversized_heads(backend: Backend) {
    let Some(server) = common::Server::start_with(backend, config(64, 5), Arc::new(SystemClock)).await else { return };
    let long_uri = format!("GET /v1/tenants/default/users?q={} HTTP/1.1\r\nhost: test\r\n\r\n", "a".repeat(9000));
    let big_headers = format!("GET /healthz HTTP/1.1\r\nhost: test\r\nx-filler: {}\r\n\r\n", "b".repeat(40_000));
    for (request, status, kind) in [(long_uri, "414", "uri-too-long"), (big_headers, "431", "headers-too-large")] {
        let mut stream = connect(&server).await;
        stream.write_all(request.as_bytes()).await.unwrap();
        let answer = read_to_close(&mut stream, Duration::from_secs(5)).await.expect("answered and closed");
        assert!(answer.starts_with(&format!("HTTP/1.1 {status}")), "{answer}");
        assert!(answer.contains("application/problem+json") && answer.contains(kind), "{answer}");
    }
}
roster::backend_test!(over_long_uris_and_headers_are_answered_in_problem_json, oversized_heads);

e2e_test!(a_nul_character_in_any_text_is_refused_with_422_naming_the_field, |server| async move {
    use reqwest::{Method, StatusCode};
    use serde_json::json;
    let key = server.root_key.clone();
    let users = server.count("users").await;
    let bodies = [
        ("/v1/tenants/default/auth/login", None, json!({"email": "a\u{0}b@example.com", "password": "x"}), "email"),
        (
            "/v1/tenants/default/auth/register",
            None,
            json!({"email": "n\u{0}@example.com", "password": "long enough"}),
            "email",
        ),
        (
            "/v1/tenants/default/users",
            Some(&key),
            json!({"email": "ok@example.com", "display_name": "Ana\u{0}"}),
            "display_name",
        ),
        (
            "/v1/tenants/default/users",
            Some(&key),
            json!({"email": "ok@example.com", "metadata": {"team": ["a", "b\u{0}"]}}),
            "metadata.team[1]",
        ),
        ("/v1/tenants", Some(&key), json!({"slug": "nul\u{0}", "name": "x"}), "slug"),
    ];
    for (path, key, body, field) in bodies {
        let reply = server.send(Method::POST, path, key.map(String::as_str), Some(&body), &[]).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {:?}", reply.body);
        assert_eq!(reply.body["errors"][0]["field"], field, "{path}: {:?}", reply.body);
    }
    for (path, field) in [
        ("/v1/tenants/default/users/by-email/a%00b@example.com", "email"),
        ("/v1/tenants/default/users/by-username/an%00a", "username"),
        ("/v1/tenants/default/users?q=an%00a", "q"),
        ("/v1/tenants/def%00ault/users", "tenant"),
    ] {
        let reply = server.get(path, &key).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {:?}", reply.body);
        assert_eq!(reply.body["errors"][0]["field"], field, "{path}: {:?}", reply.body);
    }
    assert_eq!(server.count("users").await, users, "nothing written");

    // an ingested record with one is rejected with its position; the others land
    let bugs = json!({"bugs": [
        {"id": 1, "title": "fine", "severity": "low", "reported_at": "2026-11-01T10:00:00Z", "author": {"name": "Ana"}},
        {"id": 2, "title": "bad", "severity": "low", "reported_at": "2026-11-01T10:00:00Z", "steps": ["Open", "Cl\u{0}ick"]},
    ]});
    let reply = server.post("/v1/tenants/default/ingest/bugs", &key, bugs).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["bugs"]["inserted"], 1);
    assert_eq!(reply.body["rejected"][0]["index"], 1, "{:?}", reply.body);
    let reason = reply.body["rejected"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("steps[1] must not contain the NUL character"), "{reason}");
});

async fn trickled_bodies(backend: Backend) {
    let Some(server) = common::Server::start_with(backend, config(64, 5), Arc::new(SystemClock)).await else { return };
    let key = server.root_key.clone();
    // an ordinary body must arrive whole within the deadline (1 s here), however steadily it trickles
    let mut stream = connect(&server).await;
    let head = format!(
        "POST /v1/tenants/default/users HTTP/1.1\r\nhost: test\r\nauthorization: Bearer {key}\r\n\
         content-type: application/json\r\ncontent-length: 40\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let trickle = tokio::spawn(async move {
        for _ in 0..10 {
            if stream.write_all(b" ").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        stream
    });
    let mut stream = trickle.await.unwrap();
    let answer = read_to_close(&mut stream, Duration::from_secs(10)).await.expect("answered and closed");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(5));

    // a streamed ingest may take longer than the deadline as long as no pause is longer than it
    let records: Vec<String> = (0..6)
        .map(|i| {
            serde_json::json!({"id": 9000 + i, "title": "t", "severity": "low", "author": {"name": "Ana"}}).to_string()
        })
        .collect();
    let mut stream = connect(&server).await;
    let head = format!(
        "POST /v1/tenants/default/ingest/bugs HTTP/1.1\r\nhost: test\r\nauthorization: Bearer {key}\r\n\
         content-type: application/x-ndjson\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    for record in &records {
        let line = format!("{record}\n");
        stream.write_all(format!("{:x}\r\n{line}\r\n", line.len()).as_bytes()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    stream.write_all(b"0\r\n\r\n").await.unwrap();
    let answer = read_to_close(&mut stream, Duration::from_secs(10)).await.expect("answered and closed");
    assert!(started.elapsed() > Duration::from_secs(2), "the upload took longer than the 1 s deadline");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"inserted\":6"), "{answer}");
}
roster::backend_test!(a_body_has_a_whole_deadline_and_a_streamed_ingest_a_pause_deadline, trickled_bodies);
