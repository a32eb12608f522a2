//! The `options!` macro: turns the option table (see `options.rs`) into the [`crate::AgentConfig`] struct
//! and its defaults, the [`crate::Layer`] read from flags, `WEFT_*` variables and TOML, the per-option
//! checks and the [`crate::OptionInfo`] list that `--help`, the docs and the tests are built from.
//! Nothing about an individual option is written here.

/// One table entry:
///
/// ```text
/// /// Help line shown by `--help` (first paragraph).
/// ///
/// /// Further paragraphs document the field only.
/// field: FieldType = default_expr => toml_key: Codec [, shown "default as documented"] [, check rule]*;
/// ```
///
/// The flag is `--toml-key` and the variable `WEFT_TOML_KEY`; `rule` names a function of `validate.rs`.
macro_rules! options {
    ($(
        $(#[doc = $doc:literal])+
        $field:ident: $ty:ty = $default:expr => $key:ident: $codec:ty
            $(, shown $shown:literal)? $(, check $check:ident)*;
    )+) => {
        /// Everything an agent needs to start. The CLI fills it from flags, `WEFT_*` variables and a TOML
        /// file (see [`AgentArgs`](crate::AgentArgs)); [`AgentConfig::validate`] checks it.
        #[derive(Debug, Clone)]
        pub struct AgentConfig {
            $( $(#[doc = $doc])+ pub $field: $ty, )+
        }

        /// Every option's declared default.
        pub(crate) fn declared_defaults() -> AgentConfig {
            AgentConfig { $( $field: $default, )+ }
        }

        /// The TOML key of each option (also its flag and variable name, spelled differently).
        #[allow(non_upper_case_globals)]
        pub mod key {
            $( pub const $key: &str = stringify!($key); )+
        }

        /// The options one source sets (flags and variables, or a TOML file); `None` where it is silent.
        /// Written values are kept as written; [`Layer::apply_to`] converts them.
        #[derive(Debug, Default, Clone, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct Layer {
            $( pub $key: Option<<$codec as $crate::codec::Codec>::Raw>, )+
        }

        impl Layer {
            /// This layer where it sets an option, `lower` elsewhere.
            pub fn or(self, lower: Layer) -> Layer {
                Layer { $( $key: self.$key.or(lower.$key), )+ }
            }

            /// Sets the fields of `config` this layer sets, in table order.
            pub fn apply_to(self, config: &mut AgentConfig) -> Result<(), $crate::ConfigError> {
                $( if let Some(raw) = self.$key {
                    config.$field = $crate::validate::decode::<$codec>(key::$key, raw)?;
                } )+
                Ok(())
            }

            pub(crate) fn from_matches(m: &clap::ArgMatches) -> Result<Layer, clap::Error> {
                Ok(Layer { $( $key: $crate::cli::get_one(m, key::$key)?, )+ })
            }
        }

        impl AgentConfig {
            /// The value of the option with TOML key `key`, as a user would write it; `None` for an unknown key.
            pub fn written(&self, key: &str) -> Option<String> {
                match key {
                    $( stringify!($key) => Some(<$codec as $crate::codec::Codec>::show(&self.$field)), )+
                    _ => None,
                }
            }

            /// The per-option rules of the table (`check ...`).
            pub(crate) fn check_each(&self) -> Result<(), $crate::ConfigError> {
                $( $( $crate::validate::$check(key::$key, &self.$field, <$codec as $crate::codec::Codec>::show)?; )* )+
                Ok(())
            }
        }

        /// Every option, in table order.
        pub fn options() -> Vec<$crate::OptionInfo> {
            let d = declared_defaults();
            vec![ $( $crate::OptionInfo {
                key: key::$key,
                field: stringify!($field),
                doc: concat!($($doc, "\n"),+),
                default: options!(@shown $($shown)?; <$codec as $crate::codec::Codec>::show(&d.$field)),
                kind: <$codec as $crate::codec::Codec>::KIND,
                checks: &[$(stringify!($check)),*],
                parser: clap::value_parser!(<$codec as $crate::codec::Codec>::Raw).into(),
            }, )+ ]
        }
    };
    (@shown $shown:literal; $computed:expr) => { $shown.to_string() };
    (@shown ; $computed:expr) => { $computed };
}
