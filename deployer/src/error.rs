//! `chain()`: an error and its causes joined as `main` prints them (`{:#}`), for the few
//! places that print or log an error without going through `main`.

pub fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cause = c.source();
    }
    s
}
