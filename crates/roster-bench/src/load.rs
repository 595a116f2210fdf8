//! A small load generator: N keep-alive HTTP/1.1 connections, each sending requests back to back.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;

pub struct Call {
    method: hyper::Method,
    path: String,
    body: Option<String>,
}

impl Call {
    pub fn get(path: String) -> Call {
        Call { method: hyper::Method::GET, path, body: None }
    }
    pub fn post(path: String, body: String) -> Call {
        Call { method: hyper::Method::POST, path, body: Some(body) }
    }
}

pub enum Budget {
    Time(Duration),
    Requests(usize),
}

pub struct Outcome {
    pub requests: usize,
    pub errors: usize,
    pub elapsed: Duration,
    /// Sorted latencies in microseconds.
    pub latencies: Vec<u32>,
}

impl Outcome {
    fn percentile(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return 0.0;
        }
        let index = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        f64::from(self.latencies[index]) / 1000.0
    }

    pub fn p50(&self) -> f64 {
        self.percentile(0.5)
    }

    pub fn p99(&self) -> f64 {
        self.percentile(0.99)
    }

    pub fn rate(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    pub fn print(&self, name: &str) {
        println!(
            "{name:<28} {:>10.0} req/s  p50 {:.2} ms  p99 {:.2} ms  ({} requests, {} errors)",
            self.rate(),
            self.percentile(0.5),
            self.percentile(0.99),
            self.requests,
            self.errors
        );
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "requests": self.requests, "errors": self.errors, "req_per_s": self.rate(),
            "p50_ms": self.percentile(0.5), "p99_ms": self.percentile(0.99),
        })
    }
}

/// POST one request and return its body.
pub async fn last_body(base: &str, path: &str, body: &str) -> anyhow::Result<String> {
    let stream = tokio::net::TcpStream::connect(base).await?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let request = Request::post(path)
        .header("host", base)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_owned())))?;
    let response = sender.send_request(request).await?;
    let bytes = response.into_body().collect().await?.to_bytes();
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// One request with the caller's `Authorization`; fails unless it succeeds. The body of the answer.
pub async fn send(
    base: &str,
    authorization: &str,
    method: hyper::Method,
    path: &str,
    body: Option<&str>,
) -> anyhow::Result<String> {
    let stream = tokio::net::TcpStream::connect(base).await?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("host", base)
        .header("authorization", authorization)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.unwrap_or_default().to_owned())))?;
    let response = sender.send_request(request).await?;
    let status = response.status();
    let bytes = response.into_body().collect().await?.to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    anyhow::ensure!(status.is_success(), "{path}: {status}: {text}");
    Ok(text)
}

pub async fn wait_healthy(base: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(stream) = tokio::net::TcpStream::connect(base).await {
            let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
            tokio::spawn(connection);
            let request = Request::get("/readyz").header("host", base).body(Full::new(Bytes::new()))?;
            if sender.send_request(request).await.is_ok_and(|r| r.status().is_success()) {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("the server did not become ready")
}

/// Drive `connections` connections until the budget is spent; `call(i)` makes the i-th request.
pub async fn run(
    base: &str,
    authorization: &str,
    connections: usize,
    budget: Budget,
    call: impl Fn(usize) -> Call + Send + Sync + 'static,
) -> anyhow::Result<Outcome> {
    run_shared(base, authorization, connections, budget, Arc::new(call)).await
}

async fn run_shared(
    base: &str,
    authorization: &str,
    connections: usize,
    budget: Budget,
    call: Arc<dyn Fn(usize) -> Call + Send + Sync>,
) -> anyhow::Result<Outcome> {
    let counter = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let (deadline, limit) = match budget {
        Budget::Time(d) => (Some(started + d), usize::MAX),
        Budget::Requests(n) => (None, n),
    };
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (call, counter, base, authorization) =
            (call.clone(), counter.clone(), base.to_owned(), authorization.to_owned());
        tasks.push(tokio::spawn(async move {
            let stream = tokio::net::TcpStream::connect(&base).await?;
            stream.set_nodelay(true)?;
            let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
            tokio::spawn(connection);
            let mut latencies = Vec::new();
            let mut errors = 0usize;
            loop {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    break;
                }
                let i = counter.fetch_add(1, Ordering::Relaxed);
                if i >= limit {
                    break;
                }
                let c = call(i);
                let mut builder = Request::builder()
                    .method(c.method)
                    .uri(c.path)
                    .header("host", &base)
                    .header("authorization", &authorization);
                if c.body.is_some() {
                    builder = builder.header("content-type", "application/json");
                }
                let request = builder.body(Full::new(Bytes::from(c.body.unwrap_or_default())))?;
                let sent = Instant::now();
                sender.ready().await?;
                let response = sender.send_request(request).await?;
                let ok = response.status().is_success();
                response.into_body().collect().await?;
                latencies.push(sent.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
                if !ok {
                    errors += 1;
                }
            }
            Ok::<_, anyhow::Error>((latencies, errors))
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (l, e) = task.await??;
        latencies.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    Ok(Outcome { requests: latencies.len(), errors, elapsed, latencies })
}
