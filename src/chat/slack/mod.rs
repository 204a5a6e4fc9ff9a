//! Slack's side of chat: the `/cs` slash command and the buttons' interactivity requests,
//! verified with the app's signing secret.
