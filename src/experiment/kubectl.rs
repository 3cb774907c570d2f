//! Applies and removes Chaos Mesh manifests with `kubectl` from PATH, reporting its errors
//! verbatim. [`AppliedChaos`] deletes the resource when dropped, so an early return, an error or
//! a panic unwinding through the runner still removes the fault from the cluster.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// A failed kubectl invocation.
#[derive(Debug, thiserror::Error)]
pub enum KubectlError {
    /// kubectl could not be started.
    #[error("cannot run `{program}`: {source} (is kubectl installed and on PATH?)")]
    Spawn {
        /// Program.
        program: String,
        /// Cause.
        source: std::io::Error,
    },
    /// kubectl ran and failed; its own output follows verbatim.
    #[error("`kubectl {args}` failed ({status}):\n{stderr}")]
    Failed {
        /// Arguments.
        args: String,
        /// Exit status.
        status: String,
        /// kubectl's standard error, verbatim.
        stderr: String,
    },
}

/// How to call kubectl.
#[derive(Debug, Clone)]
pub struct Kubectl {
    /// The program (default `kubectl`, resolved through PATH).
    pub program: PathBuf,
    /// Optional `--context`.
    pub context: Option<String>,
}

impl Default for Kubectl {
    fn default() -> Self {
        Self {
            program: PathBuf::from("kubectl"),
            context: None,
        }
    }
}

impl Kubectl {
    fn run(&self, verb: &[&str], manifest: &str) -> Result<String, KubectlError> {
        let mut args: Vec<String> = Vec::new();
        if let Some(context) = &self.context {
            args.push("--context".to_owned());
            args.push(context.clone());
        }
        args.extend(verb.iter().map(|a| (*a).to_owned()));
        args.push("-f".to_owned());
        args.push("-".to_owned());
        let mut child = Command::new(&self.program)
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| KubectlError::Spawn {
                program: self.program.display().to_string(),
                source,
            })?;
        if let Some(mut stdin) = child.stdin.take() {
            // A kubectl that exits early closes the pipe; its exit status then tells the story.
            let _ = stdin.write_all(manifest.as_bytes());
        }
        let output = child
            .wait_with_output()
            .map_err(|source| KubectlError::Spawn {
                program: self.program.display().to_string(),
                source,
            })?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            Err(KubectlError::Failed {
                args: args.join(" "),
                status: output.status.to_string(),
                stderr: String::from_utf8_lossy(&output.stderr)
                    .trim_end()
                    .to_owned(),
            })
        }
    }

    /// `kubectl apply -f -` with the manifest on stdin; returns a guard that deletes it.
    ///
    /// # Errors
    /// kubectl's own error when the apply fails (nothing to delete then).
    pub fn apply<'a>(&'a self, manifest: &'a str) -> Result<AppliedChaos<'a>, KubectlError> {
        self.run(&["apply"], manifest)?;
        Ok(AppliedChaos {
            kubectl: self,
            manifest,
            deleted: false,
        })
    }

    /// `kubectl delete --ignore-not-found -f -`.
    ///
    /// # Errors
    /// kubectl's own error.
    pub fn delete(&self, manifest: &str) -> Result<(), KubectlError> {
        self.run(&["delete", "--ignore-not-found"], manifest)
            .map(|_| ())
    }
}

/// A chaos resource that is live on the cluster until [`AppliedChaos::remove`] or drop.
#[derive(Debug)]
pub struct AppliedChaos<'a> {
    kubectl: &'a Kubectl,
    manifest: &'a str,
    deleted: bool,
}

impl AppliedChaos<'_> {
    /// Deletes the resource now, reporting kubectl's error.
    ///
    /// # Errors
    /// kubectl's own error; the drop guard does not try again.
    pub fn remove(mut self) -> Result<(), KubectlError> {
        self.deleted = true;
        self.kubectl.delete(self.manifest)
    }
}

impl Drop for AppliedChaos<'_> {
    fn drop(&mut self) {
        if !self.deleted
            && let Err(error) = self.kubectl.delete(self.manifest)
        {
            // Nothing else can be done from a destructor; say it loudly.
            eprintln!("warning: could not delete the chaos resource: {error}");
        }
    }
}

/// The [`ChaosControl`](super::runner::ChaosControl) of `--live --apply`: `kubectl apply` at
/// the fault start, `kubectl delete` at the fault end. Dropping it while the resource is applied
/// (an error, Ctrl-C, a panic unwinding) deletes it.
#[derive(Debug)]
pub struct KubectlControl<'a> {
    kubectl: &'a Kubectl,
    manifest: &'a str,
    applied: Option<AppliedChaos<'a>>,
}

impl<'a> KubectlControl<'a> {
    /// A control applying `manifest` with `kubectl`.
    #[must_use]
    pub fn new(kubectl: &'a Kubectl, manifest: &'a str) -> Self {
        Self {
            kubectl,
            manifest,
            applied: None,
        }
    }

    /// Whether the resource is applied right now.
    #[must_use]
    pub fn is_applied(&self) -> bool {
        self.applied.is_some()
    }
}

impl super::runner::ChaosControl for KubectlControl<'_> {
    fn fault_start(&mut self) -> Result<(), String> {
        match self.kubectl.apply(self.manifest) {
            Ok(applied) => {
                self.applied = Some(applied);
                Ok(())
            }
            Err(error) => {
                // A failed apply may still have created part of the manifest (several
                // documents, a webhook timeout): remove whatever exists before giving up.
                Err(match self.kubectl.delete(self.manifest) {
                    Ok(()) => format!(
                        "{error}\n(ran `kubectl delete --ignore-not-found` to remove anything the failed apply created)"
                    ),
                    Err(cleanup) => format!("{error}\nthe cleanup delete failed too: {cleanup}"),
                })
            }
        }
    }

    fn fault_end(&mut self) -> Result<(), String> {
        match self.applied.take() {
            Some(applied) => applied.remove().map_err(|error| error.to_string()),
            None => Ok(()),
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A stand-in kubectl that logs its arguments and stdin, and fails on `apply` when told to.
    fn fake_kubectl(dir: &std::path::Path, fail_apply: bool) -> Kubectl {
        let log = dir.join("calls.log");
        let script = dir.join("kubectl");
        let fail = if fail_apply {
            "if [ \"$1\" = apply ]; then echo 'error: the server could not find the requested resource' >&2; exit 1; fi"
        } else {
            ""
        };
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\necho \"$@\" >> {log}\ncat >> {log}.stdin\n{fail}\nexit 0\n",
                log = log.display()
            ),
        )
        .expect("write script");
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        Kubectl {
            program: script,
            context: None,
        }
    }

    #[test]
    fn apply_then_drop_deletes_and_failures_are_verbatim() {
        let dir = tempfile::tempdir().expect("tempdir");
        let kubectl = fake_kubectl(dir.path(), false);
        {
            let _applied = kubectl.apply("kind: PodChaos\n").expect("applies");
        }
        let calls = std::fs::read_to_string(dir.path().join("calls.log")).expect("log");
        assert_eq!(calls, "apply -f -\ndelete --ignore-not-found -f -\n");
        let stdin = std::fs::read_to_string(dir.path().join("calls.log.stdin")).expect("stdin log");
        assert_eq!(stdin, "kind: PodChaos\nkind: PodChaos\n");

        let failing_dir = tempfile::tempdir().expect("tempdir");
        let failing = fake_kubectl(failing_dir.path(), true);
        let error = failing.apply("kind: PodChaos\n").expect_err("apply fails");
        assert!(
            error
                .to_string()
                .contains("error: the server could not find the requested resource"),
            "{error}"
        );
        let calls = std::fs::read_to_string(failing_dir.path().join("calls.log")).expect("log");
        assert_eq!(
            calls, "apply -f -\n",
            "nothing to delete after a failed apply"
        );
        let missing = Kubectl {
            program: PathBuf::from("/nonexistent/kubectl"),
            context: None,
        };
        assert!(
            missing
                .apply("x")
                .expect_err("no binary")
                .to_string()
                .contains("is kubectl installed")
        );
    }
}
