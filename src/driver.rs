//! Which driver moves the nodes: a leaf, so scenario files can name one.

use serde::Serialize;

/// Which driver moves the nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Driver {
    /// turmoil's simulated TCP and clock, stepped tick by tick.
    Turmoil,
    /// The event-driven queue that jumps from one delivery or deadline to the next.
    Express,
}

impl Driver {
    pub fn name(self) -> &'static str {
        match self {
            Driver::Turmoil => "turmoil",
            Driver::Express => "express",
        }
    }

    pub fn parse(name: &str) -> Result<Driver, String> {
        match name {
            "turmoil" => Ok(Driver::Turmoil),
            "express" => Ok(Driver::Express),
            _ => Err(format!("unknown driver {name:?}; known: turmoil, express")),
        }
    }
}

impl std::fmt::Display for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
