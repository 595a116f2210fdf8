//! The page cursors a caller sends back: any text decodes to a position or a 422, never a panic, and a decoded
//! cursor encodes back to one that decodes the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roster::http::pagination::{
    decode_cursor, decode_key_cursor, decode_text_cursor, decode_timed_cursor, encode_cursor, encode_key_cursor,
    encode_text_cursor, encode_timed_cursor,
};
use uuid::Uuid;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(Some(id)) = decode_cursor(Some(text)) {
        assert_eq!(decode_cursor(Some(&encode_cursor(id))), Ok(Some(id)));
    }
    if let Ok(Some(key)) = decode_key_cursor::<i64>(Some(text)) {
        assert_eq!(decode_key_cursor::<i64>(Some(&encode_key_cursor(&key))), Ok(Some(key)));
    }
    if let Ok(Some(key)) = decode_key_cursor::<Uuid>(Some(text)) {
        assert_eq!(decode_key_cursor::<Uuid>(Some(&encode_key_cursor(&key))), Ok(Some(key)));
    }
    if let Ok(Some((at, key))) = decode_timed_cursor::<Uuid>(Some(text)) {
        assert_eq!(decode_timed_cursor::<Uuid>(Some(&encode_timed_cursor(at, &key))), Ok(Some((at, key))));
    }
    if let Ok(Some((at, key))) = decode_timed_cursor::<i64>(Some(text)) {
        assert_eq!(decode_timed_cursor::<i64>(Some(&encode_timed_cursor(at, &key))), Ok(Some((at, key))));
    }
    if let Ok(Some((words, key))) = decode_text_cursor::<Uuid>(Some(text)) {
        let again = decode_text_cursor::<Uuid>(Some(&encode_text_cursor(&words, &key)));
        assert_eq!(again, Ok(Some((words, key))));
    }
});
