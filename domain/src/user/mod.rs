//! User account: a person who signs in and acts. Accounts are never deleted and their ids never reused
//! (Part 11 AC-02); every change to who may do what is an event with a reason (AT-07). Credentials are
//! not here: the API keeps password hashes in a table of their own, and these events only record that a
//! password was set, reset or failed.

#[cfg(test)]
mod tests;

use std::num::NonZeroU32;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::actor::Role;
use crate::aggregate::{self, event_enum};
use crate::scope::Scope;
use crate::values::{Name, Reason, ValueError, string_value};

/// The name a person signs in with: lowercase letters, digits, '.', '_' and '-', starting with a letter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        const WHAT: &str = "username";
        if raw.is_empty() {
            return Err(ValueError::Empty { what: WHAT });
        }
        if raw.len() > 64 {
            return Err(ValueError::TooLong { what: WHAT, max: 64 });
        }
        let starts_with_letter = raw.starts_with(|c: char| c.is_ascii_lowercase());
        let allowed = raw.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
        if !starts_with_letter || !allowed {
            return Err(ValueError::BadCharacters { what: WHAT });
        }
        Ok(Self(raw.to_owned()))
    }
}
string_value!(Username);

/// A role held within a scope.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RoleGrant {
    pub role: Role,
    pub scope: Scope,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserCommand {
    /// `segregation_of_duties` is the site's setting (on by default), looked up by the write side.
    Create {
        username: Username,
        printed_name: Name,
        grants: Vec<RoleGrant>,
        segregation_of_duties: bool,
    },
    GrantRole {
        grant: RoleGrant,
        segregation_of_duties: bool,
        reason: Reason,
    },
    RevokeRole {
        grant: RoleGrant,
        reason: Reason,
    },
    ChangePrintedName {
        printed_name: Name,
        reason: Reason,
    },
    Deactivate {
        reason: Reason,
    },
    /// A sign-in with this account succeeded.
    RecordLogin,
    /// A sign-in with this account failed; `max_failed_attempts` consecutive failures lock it.
    RecordLoginFailure {
        max_failed_attempts: NonZeroU32,
    },
    Unlock {
        reason: Reason,
    },
    /// An administrator set a new password the person must change at the next sign-in (AC-05).
    ResetPassword {
        reason: Reason,
    },
    /// The person set a new password themselves.
    RecordPasswordChange,
    /// The person signed out.
    RecordLogout,
    /// A session ended because it was idle longer than allowed (AC-08).
    RecordSessionTimeout,
    /// An administrator ended every session of the account at once (AC-07: lost or compromised credentials).
    RevokeSessions {
        reason: Reason,
    },
    /// Credentials re-entered to sign were wrong or not this person's: counted with failed sign-ins
    /// towards the lockout (Part 11 ES-06).
    RecordSigningFailure {
        max_failed_attempts: NonZeroU32,
    },
    /// Credentials re-entered to sign were right: earlier failures no longer count.
    RecordSigningSuccess,
}

impl aggregate::Command for UserCommand {
    fn reason(&self) -> Option<&Reason> {
        match self {
            Self::GrantRole { reason, .. }
            | Self::RevokeRole { reason, .. }
            | Self::ChangePrintedName { reason, .. }
            | Self::Deactivate { reason }
            | Self::Unlock { reason }
            | Self::ResetPassword { reason }
            | Self::RevokeSessions { reason } => Some(reason),
            Self::Create { .. }
            | Self::RecordLogin
            | Self::RecordLoginFailure { .. }
            | Self::RecordPasswordChange
            | Self::RecordLogout
            | Self::RecordSessionTimeout
            | Self::RecordSigningFailure { .. }
            | Self::RecordSigningSuccess => None,
        }
    }
}

event_enum! {
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
    pub enum UserEvent {
        UserCreated { username: Username, printed_name: Name, grants: Vec<RoleGrant>, at: DateTime<Utc> },
        RoleGranted { grant: RoleGrant, reason: Reason, at: DateTime<Utc> },
        RoleRevoked { grant: RoleGrant, reason: Reason, at: DateTime<Utc> },
        PrintedNameChanged { from: Name, to: Name, reason: Reason, at: DateTime<Utc> },
        UserDeactivated { reason: Reason, at: DateTime<Utc> },
        LoginSucceeded { at: DateTime<Utc> },
        /// Recorded for every failure, also on a locked or deactivated account (`blocked`): such attempts
        /// are what administrators must be alerted to (AC-06).
        LoginFailed { consecutive_failures: u32, #[serde(default)] blocked: bool, at: DateTime<Utc> },
        UserLockedOut { failed_attempts: u32, at: DateTime<Utc> },
        UserUnlocked { reason: Reason, at: DateTime<Utc> },
        PasswordReset { reason: Reason, at: DateTime<Utc> },
        PasswordChanged { at: DateTime<Utc> },
        LoggedOut { at: DateTime<Utc> },
        SessionTimedOut { at: DateTime<Utc> },
        SessionsRevoked { reason: Reason, at: DateTime<Utc> },
        SigningFailed { consecutive_failures: u32, blocked: bool, at: DateTime<Utc> },
        SigningFailuresCleared { at: DateTime<Utc> },
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserError {
    #[error("user already exists")]
    AlreadyCreated,
    #[error("user does not exist")]
    NotCreated,
    #[error("user is deactivated")]
    Deactivated,
    #[error("user is locked out")]
    LockedOut,
    #[error("user is not locked out")]
    NotLockedOut,
    #[error("an administrator cannot also hold the {0:?} role (segregation of duties)")]
    SegregationOfDuties(Role),
    #[error("the user already holds this role in this scope")]
    AlreadyGranted,
    #[error("the user does not hold this role in this scope")]
    NotGranted,
    #[error("the printed name is unchanged")]
    SameName,
    #[error("the {0:?} role is not for people")]
    NotPersonal(Role),
}

impl crate::aggregate::Rule for UserError {
    fn code(&self) -> &'static str {
        match self {
            Self::AlreadyCreated { .. } => "already_created",
            Self::NotCreated { .. } => "not_created",
            Self::Deactivated { .. } => "deactivated",
            Self::LockedOut { .. } => "locked_out",
            Self::NotLockedOut { .. } => "not_locked_out",
            Self::SegregationOfDuties { .. } => "segregation_of_duties",
            Self::AlreadyGranted { .. } => "already_granted",
            Self::NotGranted { .. } => "not_granted",
            Self::SameName { .. } => "same_name",
            Self::NotPersonal { .. } => "not_personal",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub username: Option<Username>,
    pub printed_name: Option<Name>,
    pub grants: Vec<RoleGrant>,
    pub deactivated: bool,
    pub locked_out: bool,
    pub consecutive_failures: u32,
    pub must_change_password: bool,
}

/// People hold personal roles only; with segregation of duties on, no set of grants may mix admin with a
/// record-owning role.
fn check_segregation(grants: &[RoleGrant], enforced: bool) -> Result<(), UserError> {
    if let Some(grant) = grants.iter().find(|grant| !grant.role.is_personal()) {
        return Err(UserError::NotPersonal(grant.role));
    }
    let is_admin = grants.iter().any(|grant| grant.role == Role::Admin);
    match grants.iter().find(|grant| grant.role.owns_records()) {
        Some(owner) if enforced && is_admin => Err(UserError::SegregationOfDuties(owner.role)),
        _ => Ok(()),
    }
}

impl User {
    fn created(&self) -> Result<(), UserError> {
        if self.username.is_none() { Err(UserError::NotCreated) } else { Ok(()) }
    }

    /// Whether the account may sign in and act: created, not deactivated, not locked out.
    pub fn may_act(&self) -> bool {
        self.username.is_some() && !self.deactivated && !self.locked_out
    }

    fn active(&self) -> Result<(), UserError> {
        self.created()?;
        if self.deactivated { Err(UserError::Deactivated) } else { Ok(()) }
    }

    /// A failed sign-in or signing: `failed` is the event that records which.
    fn failure(
        &self,
        max_failed_attempts: NonZeroU32,
        at: DateTime<Utc>,
        failed: fn(u32, bool, DateTime<Utc>) -> UserEvent,
    ) -> Result<Vec<UserEvent>, UserError> {
        self.created()?;
        let consecutive_failures = self.consecutive_failures.saturating_add(1);
        let blocked = self.locked_out || self.deactivated;
        let mut events = vec![failed(consecutive_failures, blocked, at)];
        if !blocked && consecutive_failures >= max_failed_attempts.get() {
            events.push(UserEvent::UserLockedOut { failed_attempts: consecutive_failures, at });
        }
        Ok(events)
    }
}

impl aggregate::Aggregate for User {
    const TYPE: &'static str = "user";
    type Command = UserCommand;
    type Event = UserEvent;
    type Error = UserError;

    fn handle(&self, command: UserCommand, at: DateTime<Utc>) -> Result<Vec<UserEvent>, UserError> {
        let event = match command {
            UserCommand::Create { username, printed_name, grants, segregation_of_duties } => {
                if self.username.is_some() {
                    return Err(UserError::AlreadyCreated);
                }
                check_segregation(&grants, segregation_of_duties)?;
                let mut unique = grants;
                unique.sort();
                unique.dedup();
                UserEvent::UserCreated { username, printed_name, grants: unique, at }
            }
            UserCommand::GrantRole { grant, segregation_of_duties, reason } => {
                self.active()?;
                if self.grants.contains(&grant) {
                    return Err(UserError::AlreadyGranted);
                }
                let mut after = self.grants.clone();
                after.push(grant.clone());
                check_segregation(&after, segregation_of_duties)?;
                UserEvent::RoleGranted { grant, reason, at }
            }
            UserCommand::RevokeRole { grant, reason } => {
                self.active()?;
                if !self.grants.contains(&grant) {
                    return Err(UserError::NotGranted);
                }
                UserEvent::RoleRevoked { grant, reason, at }
            }
            UserCommand::ChangePrintedName { printed_name, reason } => {
                self.active()?;
                let from = self.printed_name.clone().ok_or(UserError::NotCreated)?;
                if from == printed_name {
                    return Err(UserError::SameName);
                }
                UserEvent::PrintedNameChanged { from, to: printed_name, reason, at }
            }
            UserCommand::Deactivate { reason } => {
                self.active()?;
                UserEvent::UserDeactivated { reason, at }
            }
            UserCommand::RecordLogin => {
                self.active()?;
                if self.locked_out {
                    return Err(UserError::LockedOut);
                }
                UserEvent::LoginSucceeded { at }
            }
            UserCommand::RecordLoginFailure { max_failed_attempts } => {
                return self.failure(max_failed_attempts, at, |consecutive_failures, blocked, at| {
                    UserEvent::LoginFailed { consecutive_failures, blocked, at }
                });
            }
            UserCommand::RecordSigningFailure { max_failed_attempts } => {
                return self.failure(max_failed_attempts, at, |consecutive_failures, blocked, at| {
                    UserEvent::SigningFailed { consecutive_failures, blocked, at }
                });
            }
            UserCommand::RecordSigningSuccess => {
                self.active()?;
                if self.consecutive_failures == 0 {
                    return Ok(vec![]);
                }
                UserEvent::SigningFailuresCleared { at }
            }
            UserCommand::Unlock { reason } => {
                self.active()?;
                if !self.locked_out {
                    return Err(UserError::NotLockedOut);
                }
                UserEvent::UserUnlocked { reason, at }
            }
            UserCommand::ResetPassword { reason } => {
                self.active()?;
                UserEvent::PasswordReset { reason, at }
            }
            UserCommand::RecordPasswordChange => {
                self.active()?;
                UserEvent::PasswordChanged { at }
            }
            UserCommand::RecordLogout => {
                self.created()?;
                UserEvent::LoggedOut { at }
            }
            UserCommand::RecordSessionTimeout => {
                self.created()?;
                UserEvent::SessionTimedOut { at }
            }
            UserCommand::RevokeSessions { reason } => {
                self.created()?;
                UserEvent::SessionsRevoked { reason, at }
            }
        };
        Ok(vec![event])
    }

    fn apply(&mut self, event: &UserEvent) {
        match event.clone() {
            UserEvent::UserCreated { username, printed_name, grants, .. } => {
                self.username = Some(username);
                self.printed_name = Some(printed_name);
                self.grants = grants;
            }
            UserEvent::RoleGranted { grant, .. } => self.grants.push(grant),
            UserEvent::RoleRevoked { grant, .. } => self.grants.retain(|held| *held != grant),
            UserEvent::PrintedNameChanged { to, .. } => self.printed_name = Some(to),
            UserEvent::UserDeactivated { .. } => self.deactivated = true,
            UserEvent::LoginSucceeded { .. } | UserEvent::SigningFailuresCleared { .. } => {
                self.consecutive_failures = 0
            }
            UserEvent::LoginFailed { consecutive_failures, .. }
            | UserEvent::SigningFailed { consecutive_failures, .. } => self.consecutive_failures = consecutive_failures,
            UserEvent::UserLockedOut { .. } => self.locked_out = true,
            UserEvent::UserUnlocked { .. } => {
                self.locked_out = false;
                self.consecutive_failures = 0;
            }
            UserEvent::PasswordReset { .. } => self.must_change_password = true,
            UserEvent::PasswordChanged { .. } => self.must_change_password = false,
            UserEvent::LoggedOut { .. } | UserEvent::SessionTimedOut { .. } | UserEvent::SessionsRevoked { .. } => {}
        }
    }
}
