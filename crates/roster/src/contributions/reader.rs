//! A streaming reader of crowd-testing exports: every input shape of the testing platform — `{"bugs": [...]}`,
//! `{"exploratory_tests": [...]}`, `{"exploratory_test": {...}}`, a bare array, or NDJSON — one record at a time, so
//! memory stays flat whatever the size of the input. Each record comes with its position (index in the array, or line
//! of NDJSON); malformed JSON stops the stream with the byte offset where it went wrong.

use std::io::{BufRead, ErrorKind};

/// Where a record stood in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Position {
    Index(u64),
    Line(u64),
}

/// Why reading stopped.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReadError {
    #[error("malformed JSON at byte {offset}: {reason}")]
    Malformed { offset: u64, reason: String },
    #[error("cannot read the input: {0}")]
    Io(String),
}

/// The keys of the wrapper objects the platform's API returns.
const LIST_KEYS: [&str; 2] = ["bugs", "exploratory_tests"];
const SINGLE_KEY: &str = "exploratory_test";

enum Mode {
    /// Not looked at yet.
    Start,
    /// Inside an array (bare, or the value of a wrapper key); `wrapped`: a `}` must follow the `]`.
    Array {
        index: u64,
        wrapped: bool,
        first: bool,
    },
    /// One record: the value of `exploratory_test`.
    Single,
    /// One JSON value after another, by line.
    Lines,
    Done,
}

/// Where a scan stands inside an object or array: the depth, and whether it is inside a string (after a backslash).
#[derive(Default)]
struct Nesting {
    depth: usize,
    in_string: bool,
    escaped: bool,
}

impl Nesting {
    /// Take the next byte; true when it closes the outermost object or array.
    fn feed(&mut self, b: u8) -> bool {
        if self.in_string {
            match (self.escaped, b) {
                (true, _) => self.escaped = false,
                (false, b'\\') => self.escaped = true,
                (false, b'"') => self.in_string = false,
                _ => {}
            }
            return false;
        }
        match b {
            b'"' => self.in_string = true,
            b'{' | b'[' => self.depth += 1,
            b'}' | b']' => {
                self.depth = self.depth.saturating_sub(1);
                return self.depth == 0;
            }
            _ => {}
        }
        false
    }
}

/// Yields `(position, record)` pairs; a record is any JSON value (checking that it is a proper record is the caller's).
pub struct RecordReader<R> {
    input: R,
    offset: u64,
    line: u64,
    mode: Mode,
    /// Bytes read while telling the shape apart, to be read again.
    replay: Vec<u8>,
    /// NDJSON: the line the last record ended on, where no other record may start.
    ended_on: Option<u64>,
}

impl<R: BufRead> RecordReader<R> {
    pub fn new(input: R) -> Self {
        Self { input, offset: 0, line: 1, mode: Mode::Start, replay: Vec::new(), ended_on: None }
    }

    /// Bytes consumed so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    fn malformed(&self, reason: impl Into<String>) -> ReadError {
        ReadError::Malformed { offset: self.offset, reason: reason.into() }
    }

    fn peek(&mut self) -> Result<Option<u8>, ReadError> {
        if let Some(&b) = self.replay.first() {
            return Ok(Some(b));
        }
        loop {
            match self.input.fill_buf() {
                Ok(buf) => return Ok(buf.first().copied()),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(ReadError::Io(e.to_string())),
            }
        }
    }

    fn next_byte(&mut self) -> Result<Option<u8>, ReadError> {
        let byte = if self.replay.is_empty() {
            let b = self.peek()?;
            if b.is_some() {
                self.input.consume(1);
            }
            b
        } else {
            Some(self.replay.remove(0))
        };
        if let Some(b) = byte {
            self.offset += 1;
            if b == b'\n' {
                self.line += 1;
            }
        }
        Ok(byte)
    }

    fn skip_whitespace(&mut self) -> Result<Option<u8>, ReadError> {
        while let Some(b) = self.peek()? {
            if !b.is_ascii_whitespace() {
                return Ok(Some(b));
            }
            self.next_byte()?;
        }
        Ok(None)
    }

    fn expect(&mut self, wanted: u8) -> Result<(), ReadError> {
        match self.skip_whitespace()? {
            Some(b) if b == wanted => self.next_byte().map(drop),
            Some(b) => Err(self.malformed(format!("expected '{}', found '{}'", wanted as char, b as char))),
            None => Err(self.malformed(format!("expected '{}', found the end of the input", wanted as char))),
        }
    }

    /// The bytes of the next JSON value, found by depth and string state; serde_json checks them afterwards.
    fn raw_value(&mut self) -> Result<Vec<u8>, ReadError> {
        let mut out = Vec::new();
        let first =
            self.skip_whitespace()?.ok_or_else(|| self.malformed("expected a value, found the end of the input"))?;
        if matches!(first, b'{' | b'[') {
            let mut scan = Nesting::default();
            // bytes read again (the first record of NDJSON) go one at a time, the rest a buffer at a time
            while !self.replay.is_empty() {
                let b = self.next_byte()?.unwrap_or(b' ');
                out.push(b);
                if scan.feed(b) {
                    return Ok(out);
                }
            }
            loop {
                let buf = loop {
                    match self.input.fill_buf() {
                        Ok(buf) => break buf,
                        Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                        Err(e) => return Err(ReadError::Io(e.to_string())),
                    }
                };
                if buf.is_empty() {
                    return Err(self.malformed("the input ends inside a value"));
                }
                let end = buf.iter().position(|&b| scan.feed(b)).map(|i| i + 1);
                let taken = &buf[..end.unwrap_or(buf.len())];
                out.extend_from_slice(taken);
                let (len, lines) = (taken.len(), taken.iter().filter(|&&b| b == b'\n').count());
                self.input.consume(len);
                self.offset += len as u64;
                self.line += lines as u64;
                if end.is_some() {
                    return Ok(out);
                }
            }
        }
        if first == b'"' {
            out.push(self.next_byte()?.unwrap_or(b'"'));
            let mut escaped = false;
            loop {
                let b = self.next_byte()?.ok_or_else(|| self.malformed("the input ends inside a string"))?;
                out.push(b);
                match (escaped, b) {
                    (true, _) => escaped = false,
                    (false, b'\\') => escaped = true,
                    (false, b'"') => return Ok(out),
                    _ => {}
                }
            }
        }
        while let Some(b) = self.peek()? {
            if b.is_ascii_whitespace() || matches!(b, b',' | b']' | b'}') {
                break;
            }
            out.push(b);
            self.next_byte()?;
        }
        Ok(out)
    }

    fn parse(&self, start: u64, raw: &[u8]) -> Result<serde_json::Value, ReadError> {
        serde_json::from_slice(raw).map_err(|e| {
            // serde counts columns within the value; the value started at `start`
            let within = raw.iter().take(e.column().saturating_sub(1)).count() as u64;
            ReadError::Malformed { offset: start + within, reason: e.to_string() }
        })
    }

    /// Read the start of the input and decide its shape.
    fn start(&mut self) -> Result<(), ReadError> {
        match self.skip_whitespace()? {
            None => self.mode = Mode::Done,
            Some(b'[') => {
                self.next_byte()?;
                self.mode = Mode::Array { index: 0, wrapped: false, first: true };
            }
            Some(b'{') => {
                // Read `{ "key" :` and look at the key; keep the bytes in case this is a record, not a wrapper.
                let (offset, line) = (self.offset, self.line);
                let mut seen = vec![self.next_byte()?.unwrap_or(b'{')];
                let mut key = Vec::new();
                while let Some(b) = self.peek()? {
                    if !b.is_ascii_whitespace() {
                        break;
                    }
                    seen.push(b);
                    self.next_byte()?;
                }
                if self.peek()? == Some(b'"') {
                    let raw = self.raw_value()?;
                    key = raw.get(1..raw.len().saturating_sub(1)).unwrap_or_default().to_vec();
                    seen.extend(&raw);
                }
                let key = String::from_utf8_lossy(&key).into_owned();
                if LIST_KEYS.contains(&key.as_str()) || key == SINGLE_KEY {
                    self.expect(b':')?;
                    if key == SINGLE_KEY {
                        self.mode = Mode::Single;
                    } else {
                        self.expect(b'[')?;
                        self.mode = Mode::Array { index: 0, wrapped: true, first: true };
                    }
                } else {
                    // A record itself: NDJSON (or a single record). Read it again from its first byte.
                    seen.extend(std::mem::take(&mut self.replay));
                    self.replay = seen;
                    self.offset = offset;
                    self.line = line;
                    self.mode = Mode::Lines;
                }
            }
            Some(b) => return Err(self.malformed(format!("expected '[' or '{{', found '{}'", b as char))),
        }
        Ok(())
    }

    fn next_record(&mut self) -> Result<Option<(Position, serde_json::Value)>, ReadError> {
        loop {
            match &mut self.mode {
                Mode::Start => self.start()?,
                Mode::Done => return Ok(None),
                Mode::Single => {
                    self.skip_whitespace()?;
                    let start = self.offset;
                    let raw = self.raw_value()?;
                    let value = self.parse(start, &raw)?;
                    self.mode = Mode::Done;
                    return Ok(Some((Position::Index(0), value)));
                }
                Mode::Lines => {
                    if self.skip_whitespace()?.is_none() {
                        self.mode = Mode::Done;
                        continue;
                    }
                    let (start, line) = (self.offset, self.line);
                    if self.ended_on == Some(line) {
                        // `{…}{…}` on one line: which line a rejection names would be ambiguous
                        return Err(
                            self.malformed(format!("a second value on line {line}: NDJSON holds one record per line"))
                        );
                    }
                    let raw = self.raw_value()?;
                    self.ended_on = Some(self.line);
                    return Ok(Some((Position::Line(line), self.parse(start, &raw)?)));
                }
                Mode::Array { index, wrapped, first } => {
                    let (index_now, wrapped, first_now) = (*index, *wrapped, *first);
                    match self.skip_whitespace()? {
                        Some(b']') => {
                            self.next_byte()?;
                            if wrapped {
                                self.expect(b'}')?;
                            }
                            if self.skip_whitespace()?.is_some() {
                                return Err(self.malformed("unexpected data after the end of the list"));
                            }
                            self.mode = Mode::Done;
                            continue;
                        }
                        Some(b',') if !first_now => {
                            self.next_byte()?;
                        }
                        Some(_) if first_now => {}
                        Some(b) => return Err(self.malformed(format!("expected ',' or ']', found '{}'", b as char))),
                        None => return Err(self.malformed("the input ends inside the list")),
                    }
                    self.skip_whitespace()?;
                    let start = self.offset;
                    let raw = self.raw_value()?;
                    let value = self.parse(start, &raw)?;
                    self.mode = Mode::Array { index: index_now + 1, wrapped, first: false };
                    return Ok(Some((Position::Index(index_now), value)));
                }
            }
        }
    }
}

impl<R: BufRead> Iterator for RecordReader<R> {
    type Item = Result<(Position, serde_json::Value), ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.next_record() {
            Ok(Some(item)) => Some(Ok(item)),
            Ok(None) => None,
            Err(e) => {
                self.mode = Mode::Done;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn read(input: &str) -> Vec<Result<(Position, serde_json::Value), ReadError>> {
        // a tiny buffer, so records straddle buffer boundaries
        RecordReader::new(std::io::BufReader::with_capacity(3, input.as_bytes())).collect()
    }

    fn ids(input: &str) -> Vec<(Position, i64)> {
        read(input).into_iter().map(|r| r.map(|(p, v)| (p, v["id"].as_i64().unwrap())).unwrap()).collect()
    }

    #[test]
    fn every_input_shape_yields_its_records_in_order() {
        let want = vec![(Position::Index(0), 1), (Position::Index(1), 2)];
        assert_eq!(ids(r#"{"bugs": [{"id": 1}, {"id": 2, "t": "]},{"}]}"#), want);
        assert_eq!(ids(r#" { "exploratory_tests" : [ {"id":1} , {"id":2} ] } "#), want);
        assert_eq!(ids(r#"[{"id": 1}, {"id": 2}]"#), want);
        assert_eq!(ids(r#"{"exploratory_test": {"id": 1, "created_by": "Ana"}}"#), vec![(Position::Index(0), 1)]);
        assert_eq!(
            ids("{\"id\": 1}\n\n{\"id\": 2, \"s\": \"a\\\"b\"}\n"),
            vec![(Position::Line(1), 1), (Position::Line(3), 2)]
        );
        assert!(read("").is_empty());
        assert!(read(r#"{"bugs": []}"#).is_empty());
    }

    #[test]
    fn records_keep_their_content() {
        let records = read(r#"{"bugs": [{"id": 5000000, "author": {"name": "Júlia S."}, "steps": ["a", "b"]}]}"#);
        let (_, value) = records[0].as_ref().unwrap();
        assert_eq!(value, &json!({"id": 5000000, "author": {"name": "Júlia S."}, "steps": ["a", "b"]}));
    }

    #[test]
    fn non_object_elements_are_yielded_for_the_caller_to_reject() {
        let records = read(r#"[{"id": 1}, 42, "x", null, {"id": 2}]"#);
        let values: Vec<serde_json::Value> = records.into_iter().map(|r| r.unwrap().1).collect();
        assert_eq!(values, vec![json!({"id": 1}), json!(42), json!("x"), json!(null), json!({"id": 2})]);
    }

    #[test]
    fn malformed_json_stops_with_the_byte_offset() {
        let records = read(r#"[{"id": 1}, {"id": 2,, "x": 1}]"#);
        assert!(records[0].is_ok());
        match &records[1] {
            Err(ReadError::Malformed { offset, .. }) => assert!((12..=21).contains(offset), "offset {offset}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(records.len(), 2, "nothing after the error");
        assert!(matches!(read(r#"[{"id": 1} {"id": 2}]"#)[1], Err(ReadError::Malformed { offset: 11, .. })));
        assert!(matches!(read(r#"{"bugs": [{"id": 1}"#).last(), Some(Err(ReadError::Malformed { .. }))));
        assert!(matches!(read("tests")[0], Err(ReadError::Malformed { offset: 0, .. })));
    }

    #[test]
    fn ndjson_holds_one_record_per_line() {
        // found by the ingest_reader fuzz target: two records on line 1, both reported as line 1
        let found = [0x00, 0x7b, 0x7d, 0x7b, 0x7d, 0xfd, 0x00, 0x00, 0xfd, 0x00, 0x00, 0x00, 0x3f];
        let records: Vec<_> = RecordReader::new(std::io::BufReader::with_capacity(1, &found[1..])).collect();
        assert_eq!(records[0], Ok((Position::Line(1), json!({}))));
        assert!(matches!(&records[1], Err(ReadError::Malformed { offset: 2, reason }) if reason.contains("line 1")));
        assert_eq!(records.len(), 2);
        assert!(matches!(read("{\"id\": 1} {\"id\": 2}\n")[1], Err(ReadError::Malformed { offset: 10, .. })));
        // a record may span lines; the next one starts on a line of its own
        assert_eq!(ids("{\"id\":\n 1}\n{\"id\": 2}"), vec![(Position::Line(1), 1), (Position::Line(3), 2)]);
    }

    #[test]
    fn the_sample_exports_read_completely() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/sample");
        if !dir.exists() {
            eprintln!("SKIPPED: no sample exports at {}", dir.display());
            return;
        }
        let count = |file: &str| {
            let input = std::io::BufReader::new(std::fs::File::open(dir.join(file)).unwrap());
            let mut n = 0;
            for record in RecordReader::new(input) {
                record.unwrap();
                n += 1;
            }
            n
        };
        assert_eq!(count("bugs.json"), 300, "as json.load counts them");
        assert_eq!(count("tests.json"), 30);
        assert_eq!(count("test.json"), 1);
    }

    #[test]
    fn a_large_array_streams_without_reading_it_whole() {
        // 200,000 records through a 64 KiB buffer: the reader holds one record at a time
        struct Generated {
            next: u64,
            total: u64,
            pending: Vec<u8>,
        }
        impl std::io::Read for Generated {
            fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
                if self.pending.is_empty() {
                    self.pending = match self.next {
                        0 => b"{\"bugs\": [".to_vec(),
                        n if n <= self.total => format!(
                            "{}{{\"id\": {n}, \"author\": {{\"name\": \"t{n}\"}}}}",
                            if n > 1 { "," } else { "" }
                        )
                        .into_bytes(),
                        n if n == self.total + 1 => b"]}".to_vec(),
                        _ => return Ok(0),
                    };
                    self.next += 1;
                }
                let n = out.len().min(self.pending.len());
                out[..n].copy_from_slice(&self.pending[..n]);
                self.pending.drain(..n);
                Ok(n)
            }
        }
        let input =
            std::io::BufReader::with_capacity(64 * 1024, Generated { next: 0, total: 200_000, pending: vec![] });
        let mut count = 0u64;
        for record in RecordReader::new(input) {
            let (position, value) = record.unwrap();
            assert_eq!(position, Position::Index(count));
            count += 1;
            assert_eq!(value["id"], count);
        }
        assert_eq!(count, 200_000);
    }
}
