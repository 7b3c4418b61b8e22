//! New private keys, written to a file of their own (mode 0600, never overwritten); the matching
//! verifier key is returned to be printed and handed out.

use std::path::Path;

use anyhow::Context;
use commands::ledger::SealKey;

/// A new seal key named `name` (the checkpoints' origin, e.g. `ms5-floor/plant-1`) in `output`; its
/// verifier key.
pub fn new_seal_key(name: &str, output: &Path) -> anyhow::Result<String> {
    let text = SealKey::generate(name).context("a seal key's name has no spaces and no `+`")?;
    let key = SealKey::parse(&text)?;
    write_private(output, &text)?;
    Ok(key.verifier().as_str().to_owned())
}

/// Writes `text` to the new file `output`, readable by its owner only, and syncs it.
pub fn write_private(output: &Path, text: &str) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(output).with_context(|| format!("creating {}", output.display()))?;
    std::io::Write::write_all(&mut file, text.as_bytes())?;
    file.sync_all()?;
    Ok(())
}
