//! Who may read a channel, computed as Discord does from what a bot can read over REST: the
//! server's roles (`GET /guilds/{id}`) and the channel's permission overwrites.
//!
//! Discord's order: the `@everyone` role's permissions OR the member's roles'; Administrator
//! allows everything; then the channel's `@everyone` overwrite (deny, then allow), the
//! member's roles' overwrites together (deny, then allow), the member's own overwrite.
//!
//! Members are not listed (that needs the privileged Server Members intent), so access is
//! given as groups, for View Channel and Read Message History together:
//! `discord-guild:{guild}` when `@everyone` may read the channel and no role or member
//! overwrite denies either bit; else each role that may read it even when held with every
//! role whose overwrite denies a bit (`discord-role:{guild}:{role}`), each member overwrite
//! that allows both (`discord-user:{user}`) and the server owner. A member overwrite that
//! denies a bit cannot be expressed without a member list, so then no role is listed. This
//! under-grants (a member with no listed role loses access in the index), never over-grants.

use connector_core::Access;

use super::model::{Channel, Guild, Overwrite};

/// `ADMINISTRATOR`.
const ADMINISTRATOR: u64 = 1 << 3;
/// `VIEW_CHANNEL`.
pub(crate) const VIEW_CHANNEL: u64 = 1 << 10;
/// `READ_MESSAGE_HISTORY`.
pub(crate) const READ_MESSAGE_HISTORY: u64 = 1 << 16;

fn overwrite<'a>(channel: &'a Channel, id: &str, kind: u8) -> Option<&'a Overwrite> {
    channel
        .permission_overwrites
        .iter()
        .find(|o| o.id == id && o.kind == kind)
}

/// The permissions in `channel` of a member (`member`, when known) holding `roles`.
pub(crate) fn permissions(
    guild: &Guild,
    channel: &Channel,
    roles: &[String],
    member: Option<&str>,
) -> u64 {
    if member.is_some() && member == guild.owner_id.as_deref() {
        return u64::MAX;
    }
    let everyone = guild
        .roles
        .iter()
        .find(|r| r.id == guild.id)
        .map_or(0, |r| r.permissions);
    let mut perms = guild
        .roles
        .iter()
        .filter(|r| roles.contains(&r.id))
        .fold(everyone, |p, r| p | r.permissions);
    if perms & ADMINISTRATOR != 0 {
        return u64::MAX;
    }
    if let Some(o) = overwrite(channel, &guild.id, 0) {
        perms = (perms & !o.deny) | o.allow;
    }
    let (allow, deny) = roles
        .iter()
        .filter_map(|r| overwrite(channel, r, 0))
        .fold((0, 0), |(a, d), o| (a | o.allow, d | o.deny));
    perms = (perms & !deny) | allow;
    if let Some(o) = member.and_then(|m| overwrite(channel, m, 1)) {
        perms = (perms & !o.deny) | o.allow;
    }
    perms
}

/// `CONNECT`.
const CONNECT: u64 = 1 << 20;

/// The permissions reading `channel`'s history takes: View Channel and Read Message History;
/// in a voice or stage channel's text chat also Connect (Discord shows that chat to members
/// who may join the channel; asking for it too never grants more than Discord does).
pub(crate) fn read_permissions(channel: &Channel) -> u64 {
    let need = VIEW_CHANNEL | READ_MESSAGE_HISTORY;
    if channel.is_voice() {
        need | CONNECT
    } else {
        need
    }
}

/// Who may read `channel` (see the module docs): the [`read_permissions`] are needed
/// (without Read Message History a member sees none of the channel's past messages).
///
/// `discord-guild:{guild}` only when `@everyone` may read it and no role or member
/// overwrite denies either bit; else the groups that may read it whatever else their members
/// hold (an under-grant: a member with no listed role loses access, never the reverse).
pub(crate) fn channel_access(guild: &Guild, channel: &Channel) -> Access {
    let need = read_permissions(channel);
    let denies = |o: &&Overwrite| o.id != guild.id && o.deny & need != 0;
    let role_deny = channel
        .permission_overwrites
        .iter()
        .filter(|o| o.kind == 0)
        .filter(denies)
        .fold(0, |d, o| d | o.deny);
    let member_denies = channel
        .permission_overwrites
        .iter()
        .filter(|o| o.kind == 1)
        .any(|o| o.deny & need != 0);
    if role_deny & need == 0
        && !member_denies
        && permissions(guild, channel, &[], None) & need == need
    {
        return Access::restricted(Vec::new(), vec![format!("discord-guild:{}", guild.id)]);
    }
    let mut groups: Vec<String> = Vec::new();
    // A member overwrite denying a bit removes that member whatever roles they hold: without
    // a member list only the members named by allowing overwrites and the owner are safe.
    if !member_denies {
        groups.extend(
            guild
                .roles
                .iter()
                .filter(|r| r.id != guild.id)
                .filter(|r| {
                    let alone = permissions(guild, channel, std::slice::from_ref(&r.id), None);
                    // Held together with a role whose overwrite denies a bit, only this role's
                    // own overwrite allows it back.
                    let own = overwrite(channel, &r.id, 0).map_or(0, |o| o.allow);
                    let admin = r.permissions & ADMINISTRATOR != 0;
                    admin || (alone & !role_deny | own) & need == need
                })
                .map(|r| format!("discord-role:{}:{}", guild.id, r.id)),
        );
    }
    groups.extend(
        channel
            .permission_overwrites
            .iter()
            .filter(|o| o.kind == 1 && o.allow & need == need)
            .map(|o| format!("discord-user:{}", o.id)),
    );
    groups.extend(guild.owner_id.iter().map(|o| format!("discord-user:{o}")));
    groups.sort();
    groups.dedup();
    Access::restricted(Vec::new(), groups)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn guild() -> Guild {
        serde_json::from_value(json!({
            "id": "100", "name": "acme", "owner_id": "900",
            "roles": [
                {"id": "100", "name": "@everyone", "permissions": (VIEW_CHANNEL | READ_MESSAGE_HISTORY).to_string()},
                {"id": "200", "name": "staff", "permissions": "0"},
                {"id": "300", "name": "admin", "permissions": "8"}
            ]
        }))
        .unwrap()
    }

    fn channel(overwrites: serde_json::Value) -> Channel {
        serde_json::from_value(
            json!({"id": "1", "type": 0, "name": "c", "permission_overwrites": overwrites}),
        )
        .unwrap()
    }

    #[test]
    fn open_channel_is_the_server() {
        let a = channel_access(&guild(), &channel(json!([])));
        assert_eq!(a.groups, ["discord-guild:100"]);
    }

    #[test]
    fn private_channel_lists_roles_members_and_owner() {
        let c = channel(json!([
            {"id": "100", "type": 0, "allow": "0", "deny": VIEW_CHANNEL.to_string()},
            {"id": "200", "type": 0, "allow": VIEW_CHANNEL.to_string(), "deny": "0"},
            {"id": "555", "type": 1, "allow": (VIEW_CHANNEL | READ_MESSAGE_HISTORY).to_string(), "deny": "0"}
        ]));
        let a = channel_access(&guild(), &c);
        assert!(!a.public);
        assert_eq!(
            a.groups,
            [
                "discord-role:100:200",
                "discord-role:100:300",
                "discord-user:555",
                "discord-user:900"
            ]
        );
        // The bot with no role cannot read it; with the staff role it can.
        assert_eq!(permissions(&guild(), &c, &[], Some("7")) & VIEW_CHANNEL, 0);
        assert_ne!(
            permissions(&guild(), &c, &["200".into()], Some("7")) & VIEW_CHANNEL,
            0
        );
    }

    #[test]
    fn a_role_deny_on_an_open_channel_is_not_the_whole_server() {
        let c = channel(json!([
            {"id": "200", "type": 0, "allow": "0", "deny": VIEW_CHANNEL.to_string()}
        ]));
        let a = channel_access(&guild(), &c);
        assert_eq!(a.groups, ["discord-role:100:300", "discord-user:900"]);
    }

    #[test]
    fn a_member_deny_leaves_only_named_members() {
        let c = channel(json!([
            {"id": "555", "type": 1, "allow": "0", "deny": VIEW_CHANNEL.to_string()}
        ]));
        let a = channel_access(&guild(), &c);
        assert_eq!(a.groups, ["discord-user:900"]);
    }

    #[test]
    fn read_message_history_is_needed() {
        let c = channel(json!([
            {"id": "100", "type": 0, "allow": "0", "deny": READ_MESSAGE_HISTORY.to_string()}
        ]));
        let a = channel_access(&guild(), &c);
        assert!(!a.groups.contains(&"discord-guild:100".to_owned()), "{a:?}");
        assert_eq!(a.groups, ["discord-role:100:300", "discord-user:900"]);
    }

    #[test]
    fn a_voice_channels_chat_needs_connect_too() {
        // @everyone may view and read history but not connect: the voice chat is not the
        // whole server's.
        let voice: Channel = serde_json::from_value(
            json!({"id": "2", "type": 2, "name": "Lounge", "permission_overwrites": []}),
        )
        .unwrap();
        assert_eq!(
            read_permissions(&voice),
            VIEW_CHANNEL | READ_MESSAGE_HISTORY | CONNECT
        );
        let a = channel_access(&guild(), &voice);
        assert_eq!(a.groups, ["discord-role:100:300", "discord-user:900"]);
        let open =
            channel(json!([{"id": "100", "type": 0, "allow": CONNECT.to_string(), "deny": "0"}]));
        let mut open_voice = open;
        open_voice.kind = 2;
        assert_eq!(
            channel_access(&guild(), &open_voice).groups,
            ["discord-guild:100"]
        );
    }
}
