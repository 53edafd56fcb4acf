//! The values and keys of rows ([`connector_core::rows`], shared with the other row
//! sources), and how an id column's key is bound ([`KeyKind`]).

pub use connector_core::rows::Key;
pub(crate) use connector_core::rows::{Value, widen};

/// The SQL type family of the id column, which says how a [`Key`] is bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyKind {
    Int,
    UInt,
    Text,
    Uuid,
    Numeric,
}

impl KeyKind {
    /// The key written as a document id would have it, parsed back (a refetch).
    pub(crate) fn parse(self, text: &str) -> Option<Key> {
        match self {
            Self::Int => text.parse().ok().map(Key::Int),
            Self::UInt => text.parse().ok().map(Key::UInt),
            Self::Text | Self::Uuid | Self::Numeric => Some(Key::Text(text.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_back() {
        assert_eq!(KeyKind::Int.parse("12"), Some(Key::Int(12)));
        assert_eq!(KeyKind::Int.parse("x"), None);
        assert_eq!(KeyKind::UInt.parse("5"), Some(Key::UInt(5)));
        assert_eq!(KeyKind::Uuid.parse("a-b"), Some(Key::Text("a-b".into())));
    }
}
