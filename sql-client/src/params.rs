//! Parameter ergonomics: everything that can stand for a statement's bound
//! parameters.
//!
//! ```text
//!   ()                                  no parameters
//!   params![1, "a", None::<i64>]        positional ?1 ?2 ?3
//!   (1, "a")  [1, 2, 3]  vec![v, ..]    positional (tuples up to 12)
//!   named! {"id" => 7, ":name" => "x"}  named :id / @id / $id
//!   BTreeMap / HashMap<String, V>       named
//! ```
//!
//! `Params` itself lives in `shared-types` (the wire shape); this module
//! only converts into it. A named key without a prefix matches any prefix.

use std::collections::{BTreeMap, HashMap};

use shared_types::{Params, Value};

/// Builds positional [`Params`] from values convertible into [`Value`].
///
/// ```
/// use sql_client::params;
/// let p = params![1, "two", 3.5, None::<i64>, vec![0u8, 1]];
/// assert_eq!(p.len(), 5);
/// ```
#[macro_export]
macro_rules! params {
    () => { $crate::Params::Positional(::std::vec::Vec::new()) };
    ($($v:expr),+ $(,)?) => {
        $crate::Params::Positional(::std::vec![$($crate::Value::from($v)),+])
    };
}

/// Builds named [`Params`]: `named! {"id" => 7, ":name" => "x"}`.
///
/// ```
/// use sql_client::named;
/// let p = named! {"id" => 7, ":name" => "ada"};
/// assert_eq!(p.len(), 2);
/// ```
#[macro_export]
macro_rules! named {
    ($($k:expr => $v:expr),* $(,)?) => {{
        #[allow(unused_mut)]
        let mut m = ::std::collections::BTreeMap::<::std::string::String, $crate::Value>::new();
        $( m.insert(::std::string::String::from($k), $crate::Value::from($v)); )*
        $crate::Params::Named(m)
    }};
}

/// Anything that can be bound as a statement's parameters.
///
/// `Params` is defined in `shared-types`, so the conversions are a trait of
/// this crate rather than `From` impls (the orphan rule forbids those).
pub trait IntoParams {
    fn into_params(self) -> Params;
}

impl IntoParams for Params {
    fn into_params(self) -> Params {
        self
    }
}

impl IntoParams for () {
    fn into_params(self) -> Params {
        Params::default()
    }
}

impl<T: Into<Value>> IntoParams for Vec<T> {
    fn into_params(self) -> Params {
        Params::Positional(self.into_iter().map(Into::into).collect())
    }
}

impl<T: Into<Value>, const N: usize> IntoParams for [T; N] {
    fn into_params(self) -> Params {
        Params::Positional(self.into_iter().map(Into::into).collect())
    }
}

impl<T: Into<Value> + Clone> IntoParams for &[T] {
    fn into_params(self) -> Params {
        Params::Positional(self.iter().cloned().map(Into::into).collect())
    }
}

impl<K: Into<String>, V: Into<Value>> IntoParams for BTreeMap<K, V> {
    fn into_params(self) -> Params {
        Params::Named(
            self.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

impl<K: Into<String>, V: Into<Value>, S> IntoParams for HashMap<K, V, S> {
    fn into_params(self) -> Params {
        Params::Named(
            self.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

macro_rules! tuple_params {
    ($($t:ident),+) => {
        impl<$($t: Into<Value>),+> IntoParams for ($($t,)+) {
            #[allow(non_snake_case)]
            fn into_params(self) -> Params {
                let ($($t,)+) = self;
                Params::Positional(vec![$($t.into()),+])
            }
        }
    };
}

tuple_params!(A);
tuple_params!(A, B);
tuple_params!(A, B, C);
tuple_params!(A, B, C, D);
tuple_params!(A, B, C, D, E);
tuple_params!(A, B, C, D, E, F);
tuple_params!(A, B, C, D, E, F, G);
tuple_params!(A, B, C, D, E, F, G, H);
tuple_params!(A, B, C, D, E, F, G, H, I);
tuple_params!(A, B, C, D, E, F, G, H, I, J);
tuple_params!(A, B, C, D, E, F, G, H, I, J, K);
tuple_params!(A, B, C, D, E, F, G, H, I, J, K, L);

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(p: impl IntoParams) -> Vec<Value> {
        match p.into_params() {
            Params::Positional(v) => v,
            Params::Named(m) => panic!("expected positional, got {m:?}"),
        }
    }

    #[test]
    fn positional_forms_agree() {
        let want = vec![Value::Integer(1), Value::Text("a".into()), Value::Null];
        assert_eq!(pos((1, "a", None::<i64>)), want);
        assert_eq!(pos(params![1, "a", None::<i64>]), want);
        assert_eq!(pos(want.clone()), want);
        assert_eq!(pos(want.as_slice()), want);
        assert_eq!(pos([1i64, 2]), vec![Value::Integer(1), Value::Integer(2)]);
        assert_eq!(pos(()), vec![]);
        assert_eq!(pos(params![]), vec![]);
    }

    #[test]
    fn exact_values_survive() {
        let v = pos((i64::MIN, vec![0u8, 255], 0.5, true));
        assert_eq!(
            v,
            vec![
                Value::Integer(i64::MIN),
                Value::Blob(vec![0, 255]),
                Value::Real(0.5),
                Value::Integer(1)
            ]
        );
    }

    #[test]
    fn named_forms_agree() {
        let want: BTreeMap<String, Value> = [
            ("a".to_string(), Value::Integer(1)),
            (":b".to_string(), "x".into()),
        ]
        .into();
        assert_eq!(named! {"a" => 1, ":b" => "x"}, Params::Named(want.clone()));
        let h: HashMap<&str, Value> = [("a", Value::Integer(1)), (":b", "x".into())].into();
        assert_eq!(h.into_params(), Params::Named(want));
        assert_eq!(named! {}, Params::Named(BTreeMap::new()));
    }
}
