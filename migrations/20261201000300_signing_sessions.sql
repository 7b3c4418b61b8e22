-- Electronic signatures (Part 11 ES-01; docs/part11.md): the first signature of a session needs the
-- username and the password, later ones in the same session at least the password. A session that has
-- signed records when it first did; a timeout, sign-out or another device is a new session.
ALTER TABLE sessions ADD COLUMN first_signed_at timestamptz;
