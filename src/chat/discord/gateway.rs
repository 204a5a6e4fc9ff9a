//! Slash commands over Discord's gateway with poise on serenity: cs-pulse connects like any bot
//! (no public URL needed), registers its commands in the configured guild, and answers slash
//! commands, autocomplete and button presses through the platform-neutral [`Desk`].
//!
//! There is one definition of the commands, [`COMMANDS`]; the poise commands are built from it
//! ([`commands`]) with one generic action that hands the options to [`parse`] and one generic
//! autocomplete that asks [`Desk::complete`]. Replies are made into Discord's JSON by
//! [`super::payload`] (no pings, no image upload) and sent as they are, so that the HTTP
//! interactions endpoint and the gateway answer alike.
//!
//! Discord drops an interaction whose first response is later than 3 seconds: an answer not
//! ready after [`Settings::defer_after`] is deferred (ephemeral when the answer may carry revenue
//! figures or is for the caller only) and then edited in.

use std::future::Future;
use std::num::NonZeroU64;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use poise::serenity_prelude as serenity;
use poise::BoxFuture;
use serde_json::Value;
use serenity::{
    ApplicationId, AutocompleteChoice, CommandInteraction, ComponentInteraction,
    CreateAutocompleteResponse, FullEvent, GatewayIntents, GuildId, Http, HttpBuilder, Interaction,
    InteractionId, Member, ResolvedOption, ResolvedValue, User,
};

use super::payload::{autocompletes, callback, callback_type, deferred, response_parts};
use crate::chat::command::{spec, Param, MAX_DAYS};
use crate::chat::desk::MAX_CHOICES;
use crate::chat::{
    parse, usage_reply, Caller, Command, CommandSpec, Desk, Options, ParamKind, Reply, Syntax,
    COMMANDS,
};
use crate::config::{Access, DiscordChat};
use crate::notify::{Action, ActionKind};
use crate::scheduler::{Clock, SystemClock};

/// Errors of the poise framework's callbacks (which log and answer rather than fail).
type Error = anyhow::Error;
/// A slash command's or an autocomplete's context.
type AppContext<'a> = poise::ApplicationContext<'a, Data, Error>;
/// The poise commands of cs-pulse.
pub type PoiseCommand = poise::Command<Data, Error>;

/// Discord's longest autocomplete choice name and value.
const CHOICE_MAX: usize = 100;

/// How the adapter keeps time.
#[derive(Clone)]
pub struct Settings {
    /// The "now" answers are computed for.
    pub clock: Arc<dyn Clock>,
    /// How long an answer may take before the interaction is deferred (Discord allows 3 seconds
    /// for the first response). Zero defers every answer.
    pub defer_after: Duration,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            clock: Arc::new(SystemClock),
            defer_after: Duration::from_secs(2),
        }
    }
}

/// What every callback reads.
pub struct Data {
    desk: Arc<Desk>,
    access: Access,
    settings: Settings,
}

/// Connects to Discord's gateway with `chat`'s bot token, registers the commands in its guild,
/// and answers until `shutdown` completes; then closes the connection cleanly.
///
/// With `api_base` set, REST requests (the gateway's address among them) go there instead of
/// `https://discord.com`, with serenity's rate limiter off (it would bypass the base URL).
pub async fn run(
    desk: Arc<Desk>,
    chat: &DiscordChat,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    run_with(desk, chat, Settings::default(), shutdown).await
}

/// [`run`] with a given clock and deferral delay.
pub async fn run_with(
    desk: Arc<Desk>,
    chat: &DiscordChat,
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let token = chat.token.resolve("Discord bot token of [chat.discord]")?;
    let application_id = NonZeroU64::new(chat.application_id)
        .map(ApplicationId::from)
        .context("[chat.discord] application_id must not be 0")?;
    let guild_id = NonZeroU64::new(chat.guild_id)
        .map(GuildId::from)
        .context("[chat.discord] guild_id must not be 0")?;

    let mut http = HttpBuilder::new(&token).application_id(application_id);
    if let Some(base) = &chat.api_base {
        let base = base.trim().trim_end_matches('/');
        let valid = reqwest::Url::parse(base)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host());
        anyhow::ensure!(
            valid,
            "[chat.discord] api_base \"{base}\" is not an http(s) URL"
        );
        http = http.proxy(base).ratelimiter_disabled(true);
    }

    let data = Data {
        desk,
        access: chat.access.clone(),
        settings,
    };
    let framework = poise::Framework::builder()
        .options(poise::FrameworkOptions {
            commands: commands(),
            event_handler: on_event,
            on_error,
            initialize_owners: false,
            ..Default::default()
        })
        .setup(move |ctx, _ready, framework| {
            Box::pin(async move {
                register(ctx, &framework.options().commands, guild_id).await;
                Ok(data)
            })
        })
        .build();

    let mut client = serenity::ClientBuilder::new_with_http(http.build(), GatewayIntents::GUILDS)
        .framework(framework)
        .await
        .context("building the Discord client")?;

    let mut shutdown = std::pin::pin!(shutdown);
    tokio::select! {
        result = client.start() => return result.context("the Discord gateway connection ended"),
        () = &mut shutdown => {}
    }
    tracing::info!("closing the Discord gateway connection");
    let shards = &client.shard_manager;
    // A shard still connecting has no runner to shut down yet: give it a moment to appear.
    for _ in 0..SHARD_WAITS {
        if !shards.shards_instantiated().await.is_empty() {
            break;
        }
        tokio::time::sleep(SHARD_WAIT).await;
    }
    shards.shutdown_all().await;
    Ok(())
}

/// How long a shutdown waits, at most `SHARD_WAITS` times, for a connecting shard to start.
const SHARD_WAIT: Duration = Duration::from_millis(100);
const SHARD_WAITS: usize = 20;

/// The poise commands, one per [`COMMANDS`] spec, in its order.
pub fn commands() -> Vec<PoiseCommand> {
    COMMANDS.iter().map(command).collect()
}

fn command(spec: &'static CommandSpec) -> PoiseCommand {
    poise::Command {
        name: spec.name.to_string(),
        qualified_name: spec.name.to_string(),
        identifying_name: spec.name.to_string(),
        source_code_name: spec.name.to_string(),
        description: Some(spec.summary.to_string()),
        slash_action: Some(slash_action),
        parameters: spec.params.iter().map(parameter).collect(),
        ..Default::default()
    }
}

fn parameter(param: &'static Param) -> poise::CommandParameter<Data, Error> {
    poise::CommandParameter {
        name: param.name.to_string(),
        name_localizations: Default::default(),
        description: Some(param.help.to_string()),
        description_localizations: Default::default(),
        required: param.required,
        channel_types: None,
        choices: vec![],
        type_setter: Some(match param.kind {
            ParamKind::Days => days_option,
            _ => text_option,
        }),
        autocomplete_callback: autocompletes(param.kind).then_some(autocomplete),
        __non_exhaustive: (),
    }
}

fn text_option(option: serenity::CreateCommandOption) -> serenity::CreateCommandOption {
    option.kind(serenity::CommandOptionType::String)
}

fn days_option(option: serenity::CreateCommandOption) -> serenity::CreateCommandOption {
    option
        .kind(serenity::CommandOptionType::Integer)
        .min_int_value(1)
        .max_int_value(u64::from(MAX_DAYS))
}

/// Registers `commands` in the guild (a bulk overwrite); a failure is logged, not fatal, so
/// that buttons and commands registered earlier keep working.
async fn register(ctx: &serenity::Context, commands: &[PoiseCommand], guild_id: GuildId) {
    match poise::builtins::register_in_guild(ctx, commands, guild_id).await {
        Ok(()) => tracing::info!(
            guild = guild_id.get(),
            commands = commands.len(),
            "registered the slash commands"
        ),
        Err(e) => tracing::error!(
            guild = guild_id.get(),
            error = %e,
            "couldn't register the slash commands; check the bot's applications.commands scope"
        ),
    }
}

fn slash_action(
    ctx: AppContext<'_>,
) -> BoxFuture<'_, Result<(), poise::FrameworkError<'_, Data, Error>>> {
    Box::pin(async move {
        answer_command(ctx).await;
        Ok(())
    })
}

async fn answer_command(ctx: AppContext<'_>) {
    let data = ctx.data;
    let interaction = ctx.interaction;
    let caller = caller(
        &interaction.user,
        interaction.member.as_deref(),
        &data.access,
    );
    let responder = Responder::new(&ctx.serenity_context.http, interaction);
    let result = match parse(&interaction.data.name, &options(ctx.args)) {
        Err(e) => responder.respond(&usage_reply(&e, Syntax::Discord)).await,
        Ok(command) => {
            let private = private_by_default(&command, &caller);
            let now = data.settings.clock.now();
            let desk = data.desk.clone();
            let answer = async move { desk.answer(&caller, &command, now).await };
            responder
                .answer(private, data.settings.defer_after, answer)
                .await
        }
    };
    if let Err(e) = result {
        tracing::warn!(command = %interaction.data.name, error = %e, "couldn't answer on Discord");
    }
}

/// Whether an answer is known, before it is computed, to be for the caller's eyes only: so that
/// a deferred response is ephemeral from its first byte.
fn private_by_default(command: &Command, caller: &Caller) -> bool {
    command.shows_revenue()
        || matches!(command, Command::Help { .. })
        || (command.acts() && !caller.act)
}

/// The options as raw text by name, as [`parse`] takes them.
fn options(args: &[ResolvedOption<'_>]) -> Options {
    args.iter()
        .filter_map(|o| {
            let value = match &o.value {
                ResolvedValue::String(s) => s.to_string(),
                ResolvedValue::Integer(n) => n.to_string(),
                ResolvedValue::Number(n) => n.to_string(),
                ResolvedValue::Boolean(b) => b.to_string(),
                ResolvedValue::Autocomplete { value, .. } => value.to_string(),
                _ => return None,
            };
            Some((o.name.to_string(), value))
        })
        .collect()
}

/// The member (in a guild) or user (in a DM) behind an interaction, judged by their roles.
fn caller(user: &User, member: Option<&Member>, access: &Access) -> Caller {
    let roles: Vec<String> = member
        .map(|m| m.roles.iter().map(|r| r.get().to_string()).collect())
        .unwrap_or_default();
    let ids: Vec<&str> = roles.iter().map(String::as_str).collect();
    let name = match member {
        Some(m) => m.display_name().to_string(),
        None => user.display_name().to_string(),
    };
    Caller::new(
        user.id.get().to_string(),
        name,
        Syntax::Discord,
        access,
        &ids,
    )
}

fn autocomplete<'a>(
    ctx: AppContext<'a>,
    typed: &'a str,
) -> BoxFuture<'a, Result<CreateAutocompleteResponse, poise::SlashArgError>> {
    Box::pin(async move {
        let focused = ctx.args.iter().find_map(|o| match o.value {
            ResolvedValue::Autocomplete { .. } => Some(o.name),
            _ => None,
        });
        let kind = spec(&ctx.command.name)
            .and_then(|s| s.params.iter().find(|p| Some(p.name) == focused))
            .map(|p| p.kind);
        let choices = match kind {
            Some(kind) => {
                let now = ctx.data.settings.clock.now();
                ctx.data.desk.complete(kind, typed, now).await
            }
            None => vec![],
        };
        let choices = choices
            .into_iter()
            .filter(|c| !c.value.is_empty() && c.value.chars().count() <= CHOICE_MAX)
            .take(MAX_CHOICES)
            .map(|c| {
                let name: String = c.name.chars().take(CHOICE_MAX).collect();
                AutocompleteChoice::new(name, c.value)
            })
            .collect();
        Ok(CreateAutocompleteResponse::new().set_choices(choices))
    })
}

fn on_event<'a>(
    ctx: &'a serenity::Context,
    event: &'a FullEvent,
    _framework: poise::FrameworkContext<'a, Data, Error>,
    data: &'a Data,
) -> BoxFuture<'a, Result<(), Error>> {
    Box::pin(async move {
        if let FullEvent::InteractionCreate {
            interaction: Interaction::Component(press),
        } = event
        {
            answer_press(ctx, press, data).await;
        }
        Ok(())
    })
}

/// A pressed button: its `custom_id` is an [`Action`] id (`cs:ack:rule:subject`).
async fn answer_press(ctx: &serenity::Context, press: &ComponentInteraction, data: &Data) {
    let caller = caller(&press.user, press.member.as_ref(), &data.access);
    let responder = Responder {
        http: &ctx.http,
        id: press.id,
        token: &press.token,
    };
    let result = match Action::parse_id(&press.data.custom_id) {
        None => {
            responder
                .respond(&Reply::unknown_button(Syntax::Discord))
                .await
        }
        Some(action) => {
            let private = action.kind == ActionKind::Open || !caller.act;
            let now = data.settings.clock.now();
            let desk = data.desk.clone();
            let answer = async move { desk.press(&caller, &action, now).await };
            responder
                .answer(private, data.settings.defer_after, answer)
                .await
        }
    };
    if let Err(e) = result {
        tracing::warn!(button = %press.data.custom_id, error = %e, "couldn't answer a button on Discord");
    }
}

fn on_error(error: poise::FrameworkError<'_, Data, Error>) -> BoxFuture<'_, ()> {
    Box::pin(async move {
        match error {
            // A command Discord still has registered but this version does not define.
            poise::FrameworkError::UnknownInteraction {
                ctx, interaction, ..
            } => {
                let reply = match parse(&interaction.data.name, &Options::new()) {
                    Err(e) => usage_reply(&e, Syntax::Discord),
                    Ok(_) => Reply::crashed(),
                };
                if let Err(e) = Responder::new(&ctx.http, interaction).respond(&reply).await {
                    tracing::warn!(error = %e, "couldn't answer an unknown command on Discord");
                }
            }
            other => tracing::warn!(error = %other, "Discord framework error"),
        }
    })
}

/// Answers one interaction: the first response (`POST .../callback`), the deferred response's
/// edit (`PATCH .../messages/@original`) and follow-ups (`POST /webhooks/...`).
struct Responder<'a> {
    http: &'a Http,
    id: InteractionId,
    token: &'a str,
}

impl<'a> Responder<'a> {
    fn new(http: &'a Http, interaction: &'a CommandInteraction) -> Responder<'a> {
        Responder {
            http,
            id: interaction.id,
            token: &interaction.token,
        }
    }

    /// Responds with the answer directly when it is ready within `defer_after`, otherwise
    /// defers (ephemerally when `private`) and edits the answer in. The answer is computed in
    /// a task of its own: should it panic, the caller still hears that it failed.
    async fn answer(
        &self,
        private: bool,
        defer_after: Duration,
        answer: impl Future<Output = Reply> + Send + 'static,
    ) -> anyhow::Result<()> {
        let mut work = tokio::spawn(answer);
        let early = if defer_after.is_zero() {
            None
        } else {
            tokio::time::timeout(defer_after, &mut work).await.ok()
        };
        if let Some(done) = early {
            return self
                .respond(&done.unwrap_or_else(|_| Reply::crashed()))
                .await;
        }
        self.http
            .create_interaction_response(self.id, self.token, &deferred(private), vec![])
            .await
            .context("deferring the response")?;
        let reply = work.await.unwrap_or_else(|_| Reply::crashed());
        self.edit(private, &reply).await
    }

    /// The reply as the interaction's first response, further parts as follow-ups.
    async fn respond(&self, reply: &Reply) -> anyhow::Result<()> {
        let mut parts = response_parts(reply).into_iter();
        let first = callback(callback_type::CHANNEL_MESSAGE, parts.next());
        self.http
            .create_interaction_response(self.id, self.token, &first, vec![])
            .await
            .context("responding")?;
        self.follow_up(parts).await
    }

    /// The reply after a deferred response (ephemeral when `deferred_private`). A private reply
    /// never replaces a public "thinking…" message (an edit can't make it private): that one is
    /// deleted and the reply follows privately. A public reply to a private deferral stays
    /// private, follow-ups included.
    async fn edit(&self, deferred_private: bool, reply: &Reply) -> anyhow::Result<()> {
        let reply = Reply {
            message: reply.message.clone(),
            ephemeral: reply.ephemeral || deferred_private,
        };
        let mut parts = response_parts(&reply).into_iter();
        if reply.ephemeral && !deferred_private {
            self.http
                .delete_original_interaction_response(self.token)
                .await
                .context("deleting the public deferred response")?;
        } else if let Some(mut first) = parts.next() {
            // An edit keeps the original's flags: Discord can't make a message (not) ephemeral.
            if let Some(body) = first.as_object_mut() {
                body.remove("flags");
            }
            self.http
                .edit_original_interaction_response(self.token, &first, vec![])
                .await
                .context("editing the deferred response")?;
        }
        self.follow_up(parts).await
    }

    async fn follow_up(&self, parts: impl Iterator<Item = Value>) -> anyhow::Result<()> {
        for part in parts {
            self.http
                .create_followup_message(self.token, &part, vec![])
                .await
                .context("sending a follow-up message")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Leaves out what serenity always writes and Discord defaults (nulls, empty lists and
    /// maps, `false` flags), and says the command type Discord assumes.
    fn normalized(mut value: Value) -> Value {
        match &mut value {
            Value::Object(map) => {
                map.retain(|_, v| {
                    !(v.is_null()
                        || v.as_array().is_some_and(Vec::is_empty)
                        || v.as_object().is_some_and(serde_json::Map::is_empty))
                });
                for v in map.values_mut() {
                    *v = normalized(v.take());
                }
            }
            Value::Array(items) => {
                for v in items.iter_mut() {
                    *v = normalized(v.take());
                }
            }
            _ => {}
        }
        value
    }

    #[test]
    fn the_poise_commands_register_what_the_specs_say() {
        let poise: Vec<Value> = commands()
            .iter()
            .filter_map(|c| c.create_as_slash_command())
            .map(|c| serde_json::to_value(c).unwrap())
            .collect();
        assert_eq!(poise.len(), COMMANDS.len());
        let mut poise = normalized(Value::Array(poise));
        for command in poise.as_array_mut().unwrap() {
            let map = command.as_object_mut().unwrap();
            assert_eq!(map.remove("nsfw"), Some(Value::Bool(false)));
            map.entry("type").or_insert(serde_json::json!(1));
            for option in map
                .get_mut("options")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
            {
                let option = option.as_object_mut().unwrap();
                if option.get("autocomplete") == Some(&Value::Bool(false)) {
                    option.remove("autocomplete");
                }
            }
        }
        let specs = normalized(super::super::payload::command_registrations());
        assert_eq!(poise, specs);
    }
}
