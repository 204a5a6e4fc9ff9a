//! `/help`: the commands and how to write them on the caller's platform.

use crate::chat::command::{CommandSpec, Syntax};
use crate::chat::Reply;
use crate::notify::Tone;

pub fn help(_command: Option<&'static CommandSpec>, _syntax: Syntax) -> Reply {
    Reply::note("help", vec!["not built yet".into()], Tone::Info)
}
