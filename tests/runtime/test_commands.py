"""The pieces of custom commands and skills on their own: the frontmatter subset, argument
substitution, discovery (namespaces, precedence, bad files) and the markers expansion recognises."""

from __future__ import annotations

from pathlib import Path

from claw.runtime.command_expand import _MARKER
from claw.runtime.commands import CommandDir, load_commands, substitute_arguments
from claw.runtime.extensions import command_word
from claw.runtime.frontmatter import as_list, split_frontmatter
from claw.runtime.skills import load_skills, skills_section


def test_frontmatter_subset():
    parsed = split_frontmatter("---\n# comment\ndescription: 'It''s here'\nallowed-tools: [Read, \"Bash(git log:*)\"]\n"
                               "tags:\n  - a\n  - b\nflag: true\nlong: one\n  two\n---\nbody\n")
    assert parsed.error is None and parsed.body == "body\n"
    assert parsed.meta == {"description": "It's here", "allowed-tools": ["Read", "Bash(git log:*)"],
                           "tags": ["a", "b"], "flag": True, "long": "one two"}
    assert split_frontmatter("no frontmatter\n---\n").meta == {}
    unclosed = split_frontmatter("---\ndescription: x\n")
    assert unclosed.error and "never closed" in unclosed.error and unclosed.meta == {}
    assert split_frontmatter("---\n  - orphan\n---\nb").error.startswith("line 2:")
    assert as_list("Bash(git add:*), Read") == ["Bash(git add:*)", "Read"] and as_list(None) == []


def test_arguments_fill_placeholders_once_and_are_appended_when_none_is_used():
    assert substitute_arguments("Review $1 ($2) - $ARGUMENTS", 'a.py "very high"') == \
        'Review a.py (very high) - a.py "very high"'
    assert substitute_arguments("Missing: [$3]", "one") == "Missing: []"
    assert substitute_arguments("No placeholders.", "extra words") == "No placeholders.\n\nextra words"
    assert substitute_arguments("$1", "$ARGUMENTS") == "$ARGUMENTS"  # never substituted twice


def test_discovery_namespaces_precedence_and_bad_files(tmp_path: Path):
    project, user = tmp_path / "p", tmp_path / "u"
    (project / "frontend").mkdir(parents=True)
    user.mkdir()
    (project / "frontend" / "component.md").write_text("---\nargument-hint: <name>\n---\n\n# Make a component\n")
    (project / "same.md").write_text("---\ndescription: from the project\n---\nx")
    (user / "same.md").write_text("---\ndescription: from the user\n---\nx")
    (user / "bad name!.md").write_text("x")
    (user / "quiet.md").write_text("---\ndisable-model-invocation: true\nmodel: inherit\n---\nq")
    commands, notes = load_commands([CommandDir(str(project), "project"), CommandDir(str(user), "user")])
    by_name = {c.name: c for c in commands}
    assert sorted(by_name) == ["component", "quiet", "same"]
    component = by_name["component"]
    assert component.summary == "Make a component (project:frontend)" and component.argument_hint == "<name>"
    assert by_name["same"].description == "from the project"
    assert by_name["quiet"].disable_model_invocation and by_name["quiet"].model is None
    assert any("same.md" in n and "is used" in n for n in notes)
    assert any("bad name!" in n and "skipped" in n for n in notes)


def test_skills_discovery_and_prompt_section(tmp_path: Path):
    root = tmp_path / "skills"
    (root / "one").mkdir(parents=True)
    (root / "one" / "SKILL.md").write_text("---\nname: first\ndescription: Does the first thing\n---\nBody")
    (root / "two").mkdir()
    (root / "two" / "SKILL.md").write_text("# Second skill\nBody")
    (root / "empty").mkdir()
    skills, notes = load_skills([CommandDir(str(root), "project")])
    assert [(s.name, s.description) for s in skills] == [("first", "Does the first thing"), ("two", "Second skill")]
    assert notes == []
    section = skills_section(skills)
    assert section.startswith("# Skills\n") and "- first: Does the first thing" in section
    assert "Body" in skills[0].load_body() and str(root / "one") in skills[0].load_body()
    assert skills_section([]) == ""


def test_command_word_and_markers():
    assert command_word("/review a.py b") == ("review", "a.py b")
    assert command_word([{"type": "text", "text": "/x"}, {"type": "image"}]) == ("x", "")
    assert command_word("//not") is None and command_word("/etc/hosts") is None and command_word("plain") is None
    text = "see @src/a.py and mail me@example.com; run !`git status` @~/notes.md"
    found = [(m.group("cmd"), m.group("path")) for m in _MARKER.finditer(text)]
    assert found == [(None, "src/a.py"), ("git status", None), (None, "~/notes.md")]


def test_skill_and_slash_command_rules_name_one_skill_or_command():
    from claw.runtime.permissions import PermissionPolicy
    from claw.tools.skill import SkillTool
    from claw.tools.slash_command import SlashCommandTool

    skill, command = SkillTool(None).spec, SlashCommandTool(None, "").spec
    policy = PermissionPolicy(mode="default", cwd="/tmp", allowed=["Skill(pdf)"],
                              disallowed=["Skill(secret)", "SlashCommand(/deploy:*)", "SlashCommand(/commit)"])
    assert policy.removed_tools() == []  # a rule with a name removes nothing
    assert policy.decide("skill", skill, {"skill": "secret"}).denied
    assert policy.decide("skill", skill, {"skill": "pdf"}).allowed
    assert policy.decide("skill", skill, {"skill": "secretive"}).allowed
    assert policy.decide("slash_command", command, {"command": "/deploy prod"}).denied
    assert policy.decide("slash_command", command, {"command": "/commit now"}).denied
    assert policy.decide("slash_command", command, {"command": "/deployment"}).allowed
    assert PermissionPolicy(cwd="/tmp", disallowed=["Skill"]).removed_tools() == ["skill"]


def test_at_words_that_are_no_paths_stay_as_written(tmp_path: Path):
    import asyncio
    import os

    from claw.runtime.command_expand import Gate, expand_body
    from claw.runtime.permissions import PermissionPolicy

    (tmp_path / "a.txt").write_text("AAA")
    gate = Gate(PermissionPolicy(mode="danger-full-access", cwd=str(tmp_path)), None, tmp_path, dict(os.environ), "/t")
    text = asyncio.run(expand_body("Use @Override, ask @team. See @a.txt.", "", gate))
    assert text == 'Use @Override, ask @team. See \n<file path="a.txt">\nAAA\n</file>\n.'
