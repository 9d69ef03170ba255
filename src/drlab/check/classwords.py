"""The words of a class's grading (feedback pages, the Moodle comment, the class report, the summary the
terminal prints), in English and French, one keyed table; code passes the fields, :func:`say` the sentence.

(The lead folds this table into drlab's message catalogue; until then it is the one place these sentences
live.) French typography: a no-break space before « : ; ? ! » and inside « », a decimal comma.
"""

from __future__ import annotations

from typing import Literal

Lang = Literal["en", "fr"]

WORDS: dict[str, dict[str, str]] = {
    "en": {
        # the feedback page a student reads
        "feedback.title": "TP1 — feedback on your notebook",
        "feedback.score": "Score: {score}/{max_score}",
        "feedback.grade": "Grade: {grade}/{maximum}",
        "feedback.notebook": "Notebook graded: {name}",
        "feedback.others": "Also in your submission, not graded (one notebook is graded per student: {rule}): {names}",
        "feedback.ignored": "Other files in your submission (not read): {names}",
        "feedback.nothing": "Nothing was graded: {problem}",
        "feedback.checks": "The checks",
        "feedback.context": "Graded on {dataset}, budget {budget}, seed {seed}.",
        "feedback.accuracy": "Test accuracy measured by the grader: {accuracy} (the bar: {threshold}).",
        "feedback.rerun": "To check your notebook yourself: drlab check tp1 your_notebook.ipynb",
        "feedback.file": "tp1-feedback.html",
        "pick.rule": "the one whose name holds “tp1”, else the most recently modified",
        # the comment written into Moodle's Feedback comments column
        "comment.head": "TP1 (drlab check): {score}/{max_score}",
        "comment.details": "The details, check by check, are in your feedback file.",
        # the class report
        "report.title": "TP1 — class report",
        "report.sub": "{count} submissions graded{context}.",
        "report.from_csv": " (from {csv})",
        "report.scores": "Scores",
        "report.scores_text": "Mean {mean}/{max_score}, median {median}/{max_score}; {passed} of {count} pass every check.",
        "report.checks": "Checks",
        "report.check": "check",
        "report.passed": "passed",
        "report.rate": "rate",
        "report.missed": "What the class missed",
        "report.missed_text": "For each check, the causes its hint named, counted over the notebooks whose first ✗ it is "
        "(a later ✗ can be a consequence of the first).",
        "report.cause_line": "{count} of {total}: {cause}",
        "report.nothing_missed": "No check failed first in any notebook.",
        "report.trouble": "Notebooks that did not run cleanly",
        "report.trouble_none": "Every notebook ran, in its sandbox, without a crash or a timeout.",
        "report.status": "status",
        "report.sandbox": "sandbox",
        "report.notebook": "notebook",
        "report.problem": "what happened",
        "report.seconds": "Time per notebook",
        "report.seconds_text": "Median {median} s, longest {longest} s ({name}); {total} s in all.",
        "report.alike": "Submissions that look alike — worth a look",
        "report.alike_text": "Pairs whose own code (the exercise notebook's cells taken away) is near-identical, most "
        "similar first. Not a verdict: a shared help session, a hint on the forum or a short answer all make "
        "code alike. Open both notebooks before drawing any conclusion.",
        "report.alike_none": "No pair of submissions has near-identical code of its own (similarity ≥ {threshold}).",
        "report.alike_unknown": "Not computed: the notebooks are needed (this report was made from a score sheet).",
        "report.similarity": "similarity",
        "report.shared": "shared lines",
        "report.files": "Files not graded",
        "report.others": "Other notebooks of a submission (one is graded per student: {rule}): {names}",
        "report.ignored": "Files that are not notebooks (listed, never read): {names}",
        "report.skipped": "Entries of the zip skipped:",
        "report.context": " (seed {seed}, budget {budget})",
        "report.moodle": "Moodle",
        "report.moodle_filled": "{worksheet}: rows filled: {filled} of {total}; the others are left as they were (no "
        "submission).",
        "report.moodle_missing": "Submissions with no row in the worksheet (not imported): {names}",
        "report.plot_scores": "score",
        "report.plot_students": "notebooks",
        "report.plot_rate": "share of notebooks that pass",
        "report.plot_seconds": "seconds",
        "status.ok": "ran",
        "status.cell-errors": "a cell raised an error",
        "status.timeout": "timed out",
        "status.killed": "killed (time, memory or output limit)",
        "status.checks-failed": "stopped before the checks ended",
        "status.unreadable": "not graded",
        "sandbox.none": "not sandboxed",
        # the terminal
        "say.worksheet": "filled worksheet: {path} (rows filled: {filled} of {total}; the others as they were)",
        "say.no_feedback_column": "note: the worksheet has no “{name}” column (enable Feedback comments in the "
        "assignment to import comments): only grades are filled",
        "say.not_in_sheet": "warning: submissions with no row in the worksheet, not imported ({count}): {names}",
        "say.feedback_zip": "feedback files for Moodle: {path} (pages: {count})",
        "say.feedback_dir": "feedback pages: {path} (pages: {count})",
        "say.report": "class report: {path}",
        "say.scores": "scores written to {path}",
        "say.skipped": "warning: entries of the submissions skipped ({count}): {names}",
        "say.several": "note: submissions with several notebooks: {count}; graded: {rule} (the others are listed in "
        "the report)",
        "say.interrupted": "interrupted: {done} of {total} graded; {path} holds them; no worksheet, feedback or report written",
    },
    "fr": {
        "feedback.title": "TP1 — retour sur votre notebook",
        "feedback.score": "Score\u00a0: {score}/{max_score}",
        "feedback.grade": "Note\u00a0: {grade}/{maximum}",
        "feedback.notebook": "Notebook noté\u00a0: {name}",
        "feedback.others": "Aussi dans votre remise, non noté (un seul notebook est noté par étudiant\u00a0: {rule})\u00a0: "
        "{names}",
        "feedback.ignored": "Autres fichiers de votre remise (non lus)\u00a0: {names}",
        "feedback.nothing": "Rien n'a été noté\u00a0: {problem}",
        "feedback.checks": "Les vérifications",
        "feedback.context": "Noté sur {dataset}, budget {budget}, graine {seed}.",
        "feedback.accuracy": "Précision sur le test mesurée par le correcteur\u00a0: {accuracy} (le seuil\u00a0: {threshold}).",
        "feedback.rerun": "Pour vérifier vous-même votre notebook\u00a0: drlab check tp1 votre_notebook.ipynb",
        "feedback.file": "tp1-retour.html",
        "pick.rule": "celui dont le nom contient «\u00a0tp1\u00a0», sinon le plus récemment modifié",
        "comment.head": "TP1 (drlab check)\u00a0: {score}/{max_score}",
        "comment.details": "Le détail, vérification par vérification, est dans votre fichier de retour.",
        "report.title": "TP1 — rapport de la classe",
        "report.sub": "{count} remises notées{context}.",
        "report.from_csv": " (d'après {csv})",
        "report.scores": "Scores",
        "report.scores_text": "Moyenne {mean}/{max_score}, médiane {median}/{max_score}\u00a0; {passed} sur {count} passent "
        "toutes les vérifications.",
        "report.checks": "Vérifications",
        "report.check": "vérification",
        "report.passed": "réussie",
        "report.rate": "taux",
        "report.missed": "Ce que la classe a manqué",
        "report.missed_text": "Pour chaque vérification, les causes que son indice a nommées, comptées sur les notebooks "
        "dont c'est le premier ✗ (un ✗ suivant peut être une conséquence du premier).",
        "report.cause_line": "{count} sur {total}\u00a0: {cause}",
        "report.nothing_missed": "Aucune vérification n'a échoué en premier dans aucun notebook.",
        "report.trouble": "Notebooks qui n'ont pas tourné proprement",
        "report.trouble_none": "Chaque notebook a tourné, dans son bac à sable, sans plantage ni dépassement de temps.",
        "report.status": "statut",
        "report.sandbox": "bac à sable",
        "report.notebook": "notebook",
        "report.problem": "ce qui s'est passé",
        "report.seconds": "Temps par notebook",
        "report.seconds_text": "Médiane {median} s, le plus long {longest} s ({name})\u00a0; {total} s en tout.",
        "report.alike": "Remises qui se ressemblent — à regarder",
        "report.alike_text": "Les paires dont le code propre (les cellules du notebook d'exercice retirées) est presque "
        "identique, les plus semblables d'abord. Ce n'est pas un verdict\u00a0: une séance d'aide commune, un indice "
        "sur le forum ou une réponse courte rendent le code semblable. Ouvrez les deux notebooks avant toute "
        "conclusion.",
        "report.alike_none": "Aucune paire de remises n'a un code propre presque identique (similarité ≥ {threshold}).",
        "report.alike_unknown": "Non calculé\u00a0: il faut les notebooks (ce rapport vient d'une feuille de scores).",
        "report.similarity": "similarité",
        "report.shared": "lignes communes",
        "report.files": "Fichiers non notés",
        "report.others": "Autres notebooks d'une remise (un seul est noté par étudiant\u00a0: {rule})\u00a0: {names}",
        "report.ignored": "Fichiers qui ne sont pas des notebooks (listés, jamais lus)\u00a0: {names}",
        "report.skipped": "Entrées du zip ignorées\u00a0:",
        "report.context": " (graine {seed}, budget {budget})",
        "report.moodle": "Moodle",
        "report.moodle_filled": "{worksheet}\u00a0: lignes remplies\u00a0: {filled} sur {total}\u00a0; les autres sont "
        "laissées telles quelles (pas de remise).",
        "report.moodle_missing": "Remises sans ligne dans la feuille de notes (non importées)\u00a0: {names}",
        "report.plot_scores": "score",
        "report.plot_students": "notebooks",
        "report.plot_rate": "part des notebooks qui passent",
        "report.plot_seconds": "secondes",
        "status.ok": "a tourné",
        "status.cell-errors": "une cellule a levé une erreur",
        "status.timeout": "temps dépassé",
        "status.killed": "arrêté (limite de temps, de mémoire ou de sortie)",
        "status.checks-failed": "arrêté avant la fin des vérifications",
        "status.unreadable": "non noté",
        "sandbox.none": "sans bac à sable",
        "say.worksheet": "feuille de notes remplie\u00a0: {path} (lignes remplies\u00a0: {filled} sur {total}\u00a0; les autres "
        "telles quelles)",
        "say.no_feedback_column": "note\u00a0: la feuille n'a pas de colonne «\u00a0{name}\u00a0» (activez les "
        "commentaires de feedback du devoir pour les importer)\u00a0: seules les notes sont remplies",
        "say.not_in_sheet": "attention\u00a0: remises sans ligne dans la feuille, non importées ({count})\u00a0: {names}",
        "say.feedback_zip": "fichiers de feedback pour Moodle\u00a0: {path} (pages\u00a0: {count})",
        "say.feedback_dir": "pages de retour\u00a0: {path} (pages\u00a0: {count})",
        "say.report": "rapport de la classe\u00a0: {path}",
        "say.scores": "scores écrits dans {path}",
        "say.skipped": "attention\u00a0: entrées des remises ignorées ({count})\u00a0: {names}",
        "say.several": "note\u00a0: remises avec plusieurs notebooks\u00a0: {count}\u00a0; noté\u00a0: {rule} (les autres "
        "sont listés dans le rapport)",
        "say.interrupted": "interrompu\u00a0: {done} sur {total} notés\u00a0; {path} les contient\u00a0; ni feuille de notes, "
        "ni retours, ni rapport écrits",
    },
}


def say(lang: str, key: str, **fields: object) -> str:
    """The sentence ``key`` in ``lang`` (English for any other language), with ``fields`` put in."""
    table = WORDS["fr"] if lang == "fr" else WORDS["en"]
    return table[key].format(**fields)


__all__ = ["WORDS", "Lang", "say"]
