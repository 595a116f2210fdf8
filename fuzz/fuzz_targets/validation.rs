//! The validation of what callers type: email, username, time zone, names, CPF. Never a panic; what passes is
//! stable (validating it again gives it back unchanged) and holds no NUL.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roster::clients::model::Cpf;
use roster::users::model::{display_name, email_key, normalize_username, person_name, target_role, timezone, Email, Username};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(email) = Email::parse(text) {
        assert!(!email.as_str().contains('\0'));
        let again = Email::parse(email.as_str()).expect("a valid email stays valid");
        assert_eq!(again.as_str(), email.as_str());
        assert_eq!(again.key(), email.key());
    }
    let _ = email_key(text);
    if let Ok(username) = Username::parse(text) {
        assert!(!username.as_str().contains('\0'));
        let again = Username::parse(username.as_str()).expect("a valid username stays valid");
        assert_eq!(again.as_str(), username.as_str());
    }
    let _ = normalize_username(text);
    if let Ok(zone) = timezone(text) {
        assert_eq!(timezone(&zone).as_deref(), Ok(zone.as_str()));
    }
    for check in [display_name as fn(&str) -> _, target_role] {
        if let Ok(value) = check(text) {
            assert!(!value.contains('\0'));
            assert_eq!(check(&value).as_deref(), Ok(value.as_str()));
        }
    }
    if let Ok(value) = person_name("first_name", text) {
        assert_eq!(person_name("first_name", &value).as_deref(), Ok(value.as_str()));
    }
    if let Ok(cpf) = Cpf::parse(text) {
        assert_eq!(cpf.digits().len(), 11);
        assert_eq!(Cpf::parse(&cpf.formatted()).map(|c| c.digits().to_owned()), Ok(cpf.digits().to_owned()));
    }
});
