use std::num::NonZeroU32;

use chrono::{DateTime, Utc};

use super::*;
use crate::aggregate::Aggregate as _;
use crate::line_id::LineId;
use crate::test_support::{given, name, reason, test_now};
use crate::values::SiteId;

fn now() -> DateTime<Utc> {
    test_now()
}
fn username() -> Username {
    Username::parse("ada.lovelace").unwrap()
}
fn on_line(role: Role) -> RoleGrant {
    RoleGrant { role, scope: Scope::Line { line: LineId::parse("plant-1/packing/L3").unwrap() } }
}
fn on_site(role: Role) -> RoleGrant {
    RoleGrant { role, scope: Scope::Site { site: SiteId::parse("plant-1").unwrap() } }
}
fn created_with(grants: Vec<RoleGrant>) -> UserEvent {
    UserEvent::UserCreated { username: username(), printed_name: name("Ada Lovelace"), grants, at: now() }
}
fn operator() -> Vec<UserEvent> {
    vec![created_with(vec![on_line(Role::Operator)])]
}
fn deactivated() -> Vec<UserEvent> {
    let mut events = operator();
    events.push(UserEvent::UserDeactivated { reason: reason("left the company"), at: now() });
    events
}
fn locked() -> Vec<UserEvent> {
    let mut events = operator();
    events.push(UserEvent::LoginFailed { consecutive_failures: 3, blocked: false, at: now() });
    events.push(UserEvent::UserLockedOut { failed_attempts: 3, at: now() });
    events
}
fn three_attempts() -> NonZeroU32 {
    NonZeroU32::new(3).unwrap_or(NonZeroU32::MIN)
}
fn grant(role_grant: RoleGrant) -> UserCommand {
    UserCommand::GrantRole { grant: role_grant, segregation_of_duties: true, reason: reason("new duties") }
}

#[test]
fn usernames_are_lowercase_and_start_with_a_letter() {
    assert!(Username::parse("ada.lovelace-2").is_ok());
    assert!(Username::parse("Ada").is_err());
    assert!(Username::parse("2ada").is_err());
    assert!(Username::parse("").is_err());
    assert!(Username::parse("ada lovelace").is_err());
}

#[test]
fn creates_a_user_once_with_its_grants_deduplicated() {
    let create = UserCommand::Create {
        username: username(),
        printed_name: name("Ada Lovelace"),
        grants: vec![on_line(Role::Operator), on_line(Role::Operator)],
        segregation_of_duties: true,
    };
    assert_eq!(given::<User>(&[], create.clone()), Ok(operator()));
    assert_eq!(given::<User>(&operator(), create), Err(UserError::AlreadyCreated));
}

#[test]
fn an_admin_cannot_also_own_records_unless_segregation_is_switched_off() {
    let create = |segregation_of_duties| UserCommand::Create {
        username: username(),
        printed_name: name("Ada Lovelace"),
        grants: vec![on_site(Role::Admin), on_line(Role::Quality)],
        segregation_of_duties,
    };
    assert_eq!(given::<User>(&[], create(true)), Err(UserError::SegregationOfDuties(Role::Quality)));
    assert!(given::<User>(&[], create(false)).is_ok());
    let admin = [created_with(vec![on_site(Role::Admin)])];
    assert!(given::<User>(&admin, grant(on_site(Role::Auditor))).is_ok());
    assert_eq!(
        given::<User>(&admin, grant(on_line(Role::Operator))),
        Err(UserError::SegregationOfDuties(Role::Operator))
    );
}

#[test]
fn grants_and_revokes_roles_with_a_reason() {
    assert_eq!(
        given::<User>(&operator(), grant(on_site(Role::TeamLeader))),
        Ok(vec![UserEvent::RoleGranted { grant: on_site(Role::TeamLeader), reason: reason("new duties"), at: now() }])
    );
    assert_eq!(given::<User>(&operator(), grant(on_line(Role::Operator))), Err(UserError::AlreadyGranted));
    let revoke = |role_grant| UserCommand::RevokeRole { grant: role_grant, reason: reason("moved to quality") };
    assert_eq!(
        given::<User>(&operator(), revoke(on_line(Role::Operator))),
        Ok(vec![UserEvent::RoleRevoked {
            grant: on_line(Role::Operator),
            reason: reason("moved to quality"),
            at: now()
        }])
    );
    assert_eq!(given::<User>(&operator(), revoke(on_site(Role::Operator))), Err(UserError::NotGranted));
    assert_eq!(given::<User>(&[], grant(on_site(Role::Operator))), Err(UserError::NotCreated));
}

#[test]
fn a_printed_name_change_keeps_the_old_name() {
    let change = |to: &str| UserCommand::ChangePrintedName { printed_name: name(to), reason: reason("marriage") };
    assert_eq!(
        given::<User>(&operator(), change("Ada King")),
        Ok(vec![UserEvent::PrintedNameChanged {
            from: name("Ada Lovelace"),
            to: name("Ada King"),
            reason: reason("marriage"),
            at: now()
        }])
    );
    assert_eq!(given::<User>(&operator(), change("Ada Lovelace")), Err(UserError::SameName));
}

#[test]
fn ac_02_a_deactivated_user_stays_and_accepts_no_further_change() {
    let deactivate = UserCommand::Deactivate { reason: reason("left the company") };
    assert_eq!(given::<User>(&operator(), deactivate.clone()), Ok(deactivated()[1..].to_vec()));
    for command in
        [deactivate, grant(on_site(Role::Auditor)), UserCommand::RecordLogin, UserCommand::RecordPasswordChange]
    {
        assert_eq!(given::<User>(&deactivated(), command), Err(UserError::Deactivated));
    }
}

#[test]
fn consecutive_login_failures_lock_the_account_and_a_success_resets_the_count() {
    let fail = UserCommand::RecordLoginFailure { max_failed_attempts: three_attempts() };
    let mut history = operator();
    history.push(UserEvent::LoginFailed { consecutive_failures: 1, blocked: false, at: now() });
    history.push(UserEvent::LoginFailed { consecutive_failures: 2, blocked: false, at: now() });
    assert_eq!(
        given::<User>(&history, fail.clone()),
        Ok(vec![
            UserEvent::LoginFailed { consecutive_failures: 3, blocked: false, at: now() },
            UserEvent::UserLockedOut { failed_attempts: 3, at: now() },
        ])
    );
    history.push(UserEvent::LoginSucceeded { at: now() });
    assert_eq!(
        given::<User>(&history, fail.clone()),
        Ok(vec![UserEvent::LoginFailed { consecutive_failures: 1, blocked: false, at: now() }])
    );
    assert_eq!(given::<User>(&[], fail), Err(UserError::NotCreated));
}

#[test]
fn attempts_on_a_locked_or_deactivated_account_are_recorded_but_never_succeed() {
    let fail = UserCommand::RecordLoginFailure { max_failed_attempts: three_attempts() };
    assert_eq!(
        given::<User>(&locked(), fail.clone()),
        Ok(vec![UserEvent::LoginFailed { consecutive_failures: 4, blocked: true, at: now() }])
    );
    assert_eq!(
        given::<User>(&deactivated(), fail),
        Ok(vec![UserEvent::LoginFailed { consecutive_failures: 1, blocked: true, at: now() }])
    );
    assert_eq!(given::<User>(&locked(), UserCommand::RecordLogin), Err(UserError::LockedOut));
    assert_eq!(given::<User>(&operator(), UserCommand::RecordLogin), Ok(vec![UserEvent::LoginSucceeded { at: now() }]));
}

#[test]
fn an_admin_unlocks_a_locked_account_only() {
    let unlock = UserCommand::Unlock { reason: reason("identity confirmed by phone") };
    let unlocked = given::<User>(&locked(), unlock.clone()).expect("unlock refused");
    assert!(matches!(unlocked.as_slice(), [UserEvent::UserUnlocked { .. }]));
    let mut user = User::default();
    for event in locked().iter().chain(&unlocked) {
        user.apply(event);
    }
    assert_eq!((user.locked_out, user.consecutive_failures), (false, 0));
    assert_eq!(given::<User>(&operator(), unlock), Err(UserError::NotLockedOut));
}

#[test]
fn an_admin_reset_forces_a_password_change_which_clears_it() {
    let mut user = User::default();
    for event in &operator() {
        user.apply(event);
    }
    let reset =
        given::<User>(&operator(), UserCommand::ResetPassword { reason: reason("forgotten") }).expect("reset refused");
    for event in &reset {
        user.apply(event);
    }
    assert!(user.must_change_password);
    let changed = user.handle(UserCommand::RecordPasswordChange, now()).expect("change refused");
    for event in &changed {
        user.apply(event);
    }
    assert!(!user.must_change_password);
}

#[test]
fn sign_outs_timeouts_and_revocations_are_recorded_even_for_a_deactivated_account() {
    let revoke = UserCommand::RevokeSessions { reason: reason("badge lost") };
    assert_eq!(
        given::<User>(&deactivated(), revoke.clone()),
        Ok(vec![UserEvent::SessionsRevoked { reason: reason("badge lost"), at: now() }])
    );
    assert_eq!(given::<User>(&operator(), UserCommand::RecordLogout), Ok(vec![UserEvent::LoggedOut { at: now() }]));
    assert_eq!(
        given::<User>(&operator(), UserCommand::RecordSessionTimeout),
        Ok(vec![UserEvent::SessionTimedOut { at: now() }])
    );
    assert_eq!(given::<User>(&[], revoke), Err(UserError::NotCreated));
}

#[test]
fn people_never_hold_the_roles_of_devices_or_of_the_service() {
    for role in [Role::Device, Role::Display, Role::System] {
        let create = UserCommand::Create {
            username: Username::parse("mallory").unwrap(),
            printed_name: name("Mallory"),
            grants: vec![on_site(role)],
            segregation_of_duties: false,
        };
        assert_eq!(given::<User>(&[], create), Err(UserError::NotPersonal(role)));
        let grant =
            UserCommand::GrantRole { grant: on_site(role), segregation_of_duties: false, reason: reason("test") };
        assert_eq!(given::<User>(&operator(), grant), Err(UserError::NotPersonal(role)));
    }
}

#[test]
fn es_06_failed_signing_counts_with_failed_sign_ins_towards_the_lockout_and_a_right_password_clears_it() {
    let max = NonZeroU32::new(3).unwrap();
    let mut user = User::default();
    user.apply(&created_with(vec![on_line(Role::Operator)]));
    let fail_login = UserCommand::RecordLoginFailure { max_failed_attempts: max };
    let fail_signing = UserCommand::RecordSigningFailure { max_failed_attempts: max };
    for command in [fail_login, fail_signing.clone()] {
        for event in user.handle(command, test_now()).unwrap() {
            user.apply(&event);
        }
    }
    assert_eq!(user.consecutive_failures, 2);
    let cleared = user.handle(UserCommand::RecordSigningSuccess, test_now()).unwrap();
    assert_eq!(cleared, [UserEvent::SigningFailuresCleared { at: test_now() }]);
    let mut after_success = user.clone();
    after_success.apply(&cleared[0]);
    assert_eq!(after_success.handle(UserCommand::RecordSigningSuccess, test_now()), Ok(vec![]));
    let third = user.handle(fail_signing, test_now()).unwrap();
    assert_eq!(
        third,
        [
            UserEvent::SigningFailed { consecutive_failures: 3, blocked: false, at: test_now() },
            UserEvent::UserLockedOut { failed_attempts: 3, at: test_now() }
        ]
    );
}
