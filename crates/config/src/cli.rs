//! The command-line face of the option table: `weft agent`'s clap arguments (a flag and a `WEFT_*`
//! variable per option, help with its default), the `--config` TOML file, and their merge — flag over
//! variable (clap), then the file, then the declared default.

use crate::{AgentConfig, ConfigError, Layer, OptionInfo, options};
use clap::{Arg, ArgAction, ArgMatches, Command, FromArgMatches};
use std::path::{Path, PathBuf};

const CONFIG: &str = "config";

/// `weft agent`'s arguments: the `--config` file and the options set by flags or variables.
#[derive(Debug, Default, Clone)]
pub struct AgentArgs {
    /// TOML file with any of the options (keys in snake_case).
    pub config: Option<PathBuf>,
    /// Options given as flags or `WEFT_*` variables.
    pub layer: Layer,
}

/// Why `weft agent`'s options could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read config file {}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("invalid config file {}", path.display())]
    Parse { path: PathBuf, source: toml::de::Error },
    #[error(transparent)]
    Config(#[from] ConfigError),
}

impl AgentArgs {
    /// Merges flags and variables over the TOML file over the defaults, then validates.
    pub fn into_config(self) -> Result<AgentConfig, LoadError> {
        let file = match &self.config {
            Some(path) => read_layer(path)?,
            None => Layer::default(),
        };
        let mut config = AgentConfig::default();
        self.layer.or(file).apply_to(&mut config)?;
        config.validate()?;
        Ok(config)
    }
}

/// Reads a TOML file of options; an unknown key is an error.
pub fn read_layer(path: &Path) -> Result<Layer, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read { path: path.into(), source })?;
    toml::from_str(&text).map_err(|source| LoadError::Parse { path: path.into(), source })
}

impl OptionInfo {
    /// The clap argument of this option: `--flag`, `WEFT_FLAG`, help ending with the default.
    fn arg(&self) -> Arg {
        Arg::new(self.key)
            .long(self.flag())
            .env(self.env())
            .value_name(self.key.to_uppercase())
            .value_parser(self.parser.clone())
            .action(ArgAction::Set)
            // `--node-id -1` is a value, not a flag.
            .allow_negative_numbers(self.kind == crate::Kind::Number)
            .help(format!("{} [default: {}]", self.help(), self.default))
    }
}

fn config_arg() -> Arg {
    Arg::new(CONFIG)
        .long(CONFIG)
        .env("WEFT_CONFIG")
        .value_name("CONFIG")
        .value_parser(clap::value_parser!(PathBuf))
        .action(ArgAction::Set)
        .help("TOML file with any of the options below (keys in snake_case, e.g. `flush_interval_ms = 5`)")
}

/// The value of argument `id`, if given; a wrong type is a clap error rather than a panic.
pub(crate) fn get_one<T: Clone + Send + Sync + 'static>(m: &ArgMatches, id: &str) -> Result<Option<T>, clap::Error> {
    m.try_get_one::<T>(id)
        .map(|v| v.cloned())
        .map_err(|e| clap::Error::raw(clap::error::ErrorKind::ArgumentConflict, format!("argument {id}: {e}\n")))
}

impl clap::Args for AgentArgs {
    fn augment_args(cmd: Command) -> Command {
        cmd.arg(config_arg()).args(options().iter().map(OptionInfo::arg))
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

impl FromArgMatches for AgentArgs {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        Ok(AgentArgs { config: get_one(m, CONFIG)?, layer: Layer::from_matches(m)? })
    }

    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        let given = Self::from_arg_matches(m)?;
        self.config = given.config.or(self.config.take());
        self.layer = given.layer.or(std::mem::take(&mut self.layer));
        Ok(())
    }
}
