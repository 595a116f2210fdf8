//! The streaming export reader and the record parser: any bytes, any read-buffer size. Never a panic; positions move
//! forward; a record the reader yields parses as a bug or a test cycle, or is rejected with a reason.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roster::contributions::model::{parse, Kind};
use roster::contributions::reader::{Position, RecordReader};

fuzz_target!(|data: &[u8]| {
    let Some((&capacity, input)) = data.split_first() else { return };
    // buffers of 1 to 256 bytes: a record, a string or an escape split across reads
    let reader = RecordReader::new(std::io::BufReader::with_capacity(usize::from(capacity) + 1, input));
    let mut last: Option<Position> = None;
    for item in reader {
        let Ok((position, value)) = item else { break };
        if let Some(last) = last {
            let forward = match (last, position) {
                (Position::Index(a), Position::Index(b)) | (Position::Line(a), Position::Line(b)) => b > a,
                _ => false,
            };
            assert!(forward, "positions go forward: {last:?} then {position:?}");
        }
        last = Some(position);
        for kind in [Kind::Bugs, Kind::Tests] {
            if let Err(reason) = parse(kind, value.clone()) {
                assert!(!reason.is_empty(), "a rejection says why");
            }
        }
    }
});
