//! Who may read a channel, computed as Discord does from what a bot can read over REST: the
//! server's roles (`GET /guilds/{id}`) and the channel's permission overwrites.
//!
//! Discord's order: the `@everyone` role's permissions OR the member's roles'; Administrator
//! allows everything; then the channel's `@everyone` overwrite (deny, then allow), the
//! member's roles' overwrites together (deny, then allow), the member's own overwrite.
//!
//! Members are not listed (that needs the privileged Server Members intent), so access is
//! given as groups: `discord-guild:{guild}` when `@everyone` may view the channel; else each
//! role that may view it on its own (`discord-role:{guild}:{role}`), each member overwrite
//! that allows it (`discord-user:{user}`) and the server owner. A member whose roles together
//! differ from each role alone (one role allows View Channel, another's overwrite denies it)
//! is not modelled: the group of the allowing role is listed.

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

/// Who may read `channel` (see the module docs).
pub(crate) fn channel_access(guild: &Guild, channel: &Channel) -> Access {
    if permissions(guild, channel, &[], None) & VIEW_CHANNEL != 0 {
        return Access::restricted(Vec::new(), vec![format!("discord-guild:{}", guild.id)]);
    }
    let mut groups: Vec<String> = guild
        .roles
        .iter()
        .filter(|r| r.id != guild.id)
        .filter(|r| {
            permissions(guild, channel, std::slice::from_ref(&r.id), None) & VIEW_CHANNEL != 0
        })
        .map(|r| format!("discord-role:{}:{}", guild.id, r.id))
        .collect();
    groups.extend(
        channel
            .permission_overwrites
            .iter()
            .filter(|o| o.kind == 1 && o.allow & VIEW_CHANNEL != 0)
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
            {"id": "555", "type": 1, "allow": VIEW_CHANNEL.to_string(), "deny": "0"}
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
}
