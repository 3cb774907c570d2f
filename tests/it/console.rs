//! The real console in a real terminal (tmux): records the experiment (`r`), waits until a
//! service turns red, selects it, opens the graph and the chat, stops the recording and finds
//! its postmortem saved, quits with `q`, and checks that the process exited and the terminal
//! was restored (main screen back, canonical mode on). Skips loudly without tmux unless
//! BAYNET_REQUIRE_TMUX=1.

use crate::support::{TmuxSession, poll, require_program};
use std::time::Duration;

/// The service name and percentage of the first red row of the Services table.
fn red_service(screen: &str) -> Option<(String, u32)> {
    screen.lines().find_map(|line| {
        let row = line.trim_start_matches('│').trim_start_matches(['▶', ' ']);
        let mut words = row.split_whitespace();
        let name = words.next()?;
        let percent = words.next()?.strip_suffix('%')?.parse::<u32>().ok()?;
        (words.next()? == "RED" && percent >= 46).then(|| (name.to_owned(), percent))
    })
}

fn selected_service(screen: &str) -> Option<String> {
    screen.lines().find_map(|line| {
        let row = line.trim_start_matches('│').strip_prefix('▶')?;
        row.split_whitespace().next().map(str::to_owned)
    })
}

fn row_of(screen: &str, name: &str) -> Option<usize> {
    screen.lines().position(|line| {
        line.trim_start_matches('│')
            .trim_start_matches(['▶', ' '])
            .split_whitespace()
            .next()
            == Some(name)
    })
}

#[test]
fn the_console_shows_a_red_service_in_the_graph_and_quits_cleanly() {
    if !require_program("tmux", "BAYNET_REQUIRE_TMUX") {
        return;
    }
    let binary = env!("CARGO_BIN_EXE_baynet");
    let data = tempfile::tempdir().unwrap();
    let kb = data.path().join("kb");
    let script = format!(
        "XDG_DATA_HOME='{}' BAYNET_KB_EMBEDDER=hashed '{binary}' console --speed 60 --scenario 06 --kb-dir '{}'; echo EXITED:$?; stty -a | tr ' ;' '\\n\\n' | grep -x -- '-\\?icanon'; sleep 60",
        data.path().display(),
        kb.display()
    );
    let session = TmuxSession::start(
        format!("baynet-it-{}", std::process::id()),
        120,
        40,
        &script,
    );

    // Record the experiment from its start: `r` once the source reports.
    let status = poll(Duration::from_secs(30), Duration::from_millis(200), || {
        session
            .capture()
            .contains("sim: payment-pod-failure")
            .then_some(())
    });
    assert!(status.is_some(), "no status bar:\n{}", session.capture());
    session.keys(&["r"]);
    let recording = poll(Duration::from_secs(10), Duration::from_millis(200), || {
        session
            .capture()
            .contains("recording; press r again")
            .then_some(())
    });
    assert!(recording.is_some(), "not recording:\n{}", session.capture());

    let red = poll(Duration::from_secs(90), Duration::from_millis(300), || {
        red_service(&session.capture())
    });
    let Some((name, percent)) = red else {
        panic!("no red service within 90 s:\n{}", session.capture());
    };
    assert!(percent >= 46);
    session.keys(&["p"]); // freeze, so the ranking holds still while we move
    std::thread::sleep(Duration::from_millis(300));
    let moved = poll(Duration::from_secs(10), Duration::from_millis(200), || {
        let screen = session.capture();
        let selected = selected_service(&screen)?;
        if selected == name {
            return Some(());
        }
        let (from, to) = (row_of(&screen, &selected)?, row_of(&screen, &name)?);
        let key = if to > from { "j" } else { "k" };
        session.keys(&vec![key; to.abs_diff(from)]);
        None
    });
    assert!(
        moved.is_some(),
        "could not select {name}:\n{}",
        session.capture()
    );

    session.keys(&[":", "g", "r", "a", "p", "h", "Enter"]);
    let graph = poll(Duration::from_secs(10), Duration::from_millis(200), || {
        let screen = session.capture();
        (screen.contains("Graph (") && screen.contains(&format!("selected: {name}")))
            .then_some(screen)
    });
    let Some(graph) = graph else {
        panic!("graph view not shown:\n{}", session.capture());
    };
    // The percentage may have moved between spotting it and pausing: read it from this screen.
    let label = regex::Regex::new(&format!(r"{} (\d+)%", regex::escape(&name))).unwrap();
    let shown: u32 = label
        .captures(&graph)
        .and_then(|c| c[1].parse().ok())
        .unwrap_or_else(|| panic!("no node label for {name}:\n{graph}"));
    assert!(shown >= 46, "node label {shown}% is red:\n{graph}");
    assert!(graph.contains("RED"), "{graph}");
    assert!(graph.contains("PAUSED"), "{graph}");

    // The chat: a suggested question answered by the offline analyst, naming the service.
    session.keys(&[":", "c", "h", "a", "t", "Enter"]);
    let chat = poll(Duration::from_secs(10), Duration::from_millis(200), || {
        let screen = session.capture();
        (screen.contains("Suggested questions") && screen.contains("What is failing?"))
            .then_some(screen)
    });
    assert!(
        chat.is_some(),
        "chat view not shown:\n{}",
        session.capture()
    );
    session.keys(&["1"]);
    let answered = poll(Duration::from_secs(10), Duration::from_millis(200), || {
        let screen = session.capture();
        screen
            .contains(&format!("{name} is the most likely root cause [{name}]"))
            .then_some(screen)
    });
    let Some(answered) = answered else {
        panic!("no answer naming {name}:\n{}", session.capture());
    };
    assert!(answered.contains("> What is failing?"), "{answered}");
    assert!(answered.contains("Why do you suspect"), "{answered}");

    // The Experiments view shows the recording's timeline; `r` stops it and saves the
    // postmortem into the knowledge directory.
    session.keys(&["8"]);
    let timeline = poll(Duration::from_secs(10), Duration::from_millis(200), || {
        let screen = session.capture();
        (screen.contains("● REC since") && screen.contains(&format!("{name} turned red")))
            .then_some(screen)
    });
    assert!(
        timeline.is_some(),
        "no recording timeline:\n{}",
        session.capture()
    );
    session.keys(&["r"]);
    let saved = poll(Duration::from_secs(60), Duration::from_millis(300), || {
        let screen = session.capture();
        screen.contains("Saved in this session").then_some(())?;
        std::fs::read_dir(&kb)
            .ok()?
            .filter_map(Result::ok)
            .find(|e| e.file_name().to_string_lossy().starts_with("rec-"))
            .map(|e| e.path())
    });
    let Some(saved) = saved else {
        panic!("the recording was not saved:\n{}", session.capture());
    };
    let text = std::fs::read_to_string(&saved).unwrap();
    let record = baynet::knowledge::record::parse(&saved, &text).unwrap();
    assert_eq!(record.root_cause_service, "payment", "{text}");
    assert_eq!(record.fault_class, "pod-failure");
    assert!(record.body.contains("| fault-start |"), "{text}");

    session.keys(&["q"]);
    let after = poll(Duration::from_secs(15), Duration::from_millis(200), || {
        let screen = session.capture();
        // Wait for the stty line too: it prints just after EXITED.
        (screen.contains("EXITED:")
            && screen
                .lines()
                .any(|l| matches!(l.trim(), "icanon" | "-icanon")))
        .then_some(screen)
    });
    let Some(after) = after else {
        panic!("the console did not exit on q:\n{}", session.capture());
    };
    assert!(after.contains("EXITED:0"), "{after}");
    assert!(
        !after.contains("1:Services"),
        "the main screen is back:\n{after}"
    );
    assert!(
        after.lines().any(|l| l.trim() == "icanon"),
        "canonical mode restored:\n{after}"
    );
    let alternate = session.tmux(&["display-message", "-p", "-t", &session.0, "#{alternate_on}"]);
    assert_eq!(alternate.trim(), "0");
}
