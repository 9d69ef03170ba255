"""Moodle's file formats, as Moodle's own source writes and reads them: the grading worksheet (CSV) and the
names in "Download all submissions" and "Upload multiple feedback files in a zip".

Every fact below is cited from the moodle/moodle repository (file, commit, function and, for the short files
read whole, the line), or, for the French strings that live outside it, from Moodle's language pack (AMOS,
mirrored in projectestac/moodle-langpacks). Nothing here guesses: a worksheet whose columns cannot be matched
is refused in one line that names the columns found and ``--moodle-columns``.

The worksheet is filled by *splicing*: the file is tokenised with the byte span of every field, and only the
Grade and Feedback-comments fields of the rows drlab graded are replaced; every other byte (BOM, delimiter,
quotes, line endings, other rows and columns) is copied as it was.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from drlab.common.errors import UsageError

#: A worksheet larger than this is not a Moodle worksheet (Moodle writes ~200 bytes per student).
MAX_WORKSHEET_BYTES = 32 << 20

# --------------------------------------------------------------------------------------------------
# The column names: the site language's strings.
#
# mod/assign/feedback/offline/importgradeslib.php (moodle/moodle@9762977c), init(): the import looks the
# columns up by `$column == get_string(...)` (lines 118-133, exact equality), with
#   line 104: $strgrade = get_string('gradenoun')            ('grade' in older branches: same text)
#   line 105: $strid = get_string('recordid', 'assign')
#   line 106: $strmodified = get_string('lastmodifiedgrade', 'assign')
# and refuses the file when one of the three is missing (line 135). Feedback columns are matched by each
# enabled feedback plugin's get_editor_fields() description (lines 108-116): for assignfeedback_comments
# that is get_string('pluginname', 'assignfeedback_comments') (mod/assign/feedback/comments/locallib.php,
# get_editor_fields()). The worksheet is written with the same strings (mod/assign/gradingtable.php,
# moodle/moodle@003699db, __construct(): recordid, 'grade', 'maxgrade' or 'scale', lastmodifiedgrade, then
# each feedback plugin's editor-field description).
#
# English: mod/assign/lang/en/assign.php: recordid 'Identifier', lastmodifiedgrade 'Last modified (grade)',
# maxgrade 'Maximum grade' (a later duplicate line says 'Maximum Grade': both are accepted), scale 'Scale',
# hiddenuser 'Participant ' (with its space); lang/en/moodle.php: grade/gradenoun 'Grade';
# mod/assign/feedback/comments/lang/en/assignfeedback_comments.php: pluginname 'Feedback comments'.
# French: not in moodle/moodle (language packs come from AMOS): projectestac/moodle-langpacks fr/assign.php
# (MOODLE_32_STABLE and later branches): recordid 'Identifiant', lastmodifiedgrade 'Dernière modification
# (note)', maxgrade 'Note maximale', scale 'Barème', hiddenuser 'Participant' (no space), participant
# 'Participant'; fr/assignfeedback_comments.php: pluginname 'Feedback par commentaires'; grade 'Note' (the
# French moodle.php is too large for the index; 'Note' is what French worksheets published with two
# independent tools show: "Identifiant, Nom complet, Adresse de courriel, Statut, Note, Note maximale, …").


@dataclass(frozen=True)
class SiteStrings:
    """The worksheet's column names on a Moodle site in one language."""

    identifier: str
    grade: str
    modified: str
    max_grade: tuple[str, ...]
    feedback: str
    scale: str


SITE_STRINGS: dict[str, SiteStrings] = {
    "en": SiteStrings(
        "Identifier", "Grade", "Last modified (grade)", ("Maximum grade", "Maximum Grade"), "Feedback comments",
        "Scale",
    ),
    "fr": SiteStrings(
        "Identifiant", "Note", "Dernière modification (note)", ("Note maximale",), "Feedback par commentaires",
        "Barème",
    ),
}  # fmt: skip

# --------------------------------------------------------------------------------------------------
# Participant numbers in file names
#
# "Download all submissions" (mod/assign/classes/downloader.php, moodle/moodle@da545523; before Moodle 4.1
# the same code in mod/assign/locallib.php, download_submissions()):
#   get_student_prefix(): fullname(student), or get_string('participant') = 'Participant' under blind
#   marking; every '_' in it replaced by ' '; then clean_filename(prefix . '_' . get_uniqueid_for_user(id))
#   load_submissionplugin_filelist(): with "Download submissions in folders" (the default,
#   get_user_preferences('assign_downloadasfolders', 1)) each file is PREFIX_assignsubmission_file/PATH;
#   without it, PREFIX_assignsubmission_file_NAME (flat). Before 4.1 the prefix ended with '_' as well
#   (…_assignsubmission_file_/NAME). Team submissions use the group's name and group id instead.
# "Upload multiple feedback files in a zip" (mod/assign/feedback/file/importziplib.php, moodle/moodle@0203d8f2,
# is_valid_filename_for_import(), lines 50-100): entries whose name starts with '.' or '~' are ignored
# (lines 55-62); each path part is split with explode('_', part, 5) (line 70); the first part with at
# least 4 pieces (line 75) whose second piece is numeric (line 82) and a participant's unique id (line 89)
# gives the student, pieces 3 and 4 name a plugin (get_plugin_by_type, line 97), and what follows is the
# feedback file's name. import_zip_files() keys the participants by get_uniqueid_for_user().

#: the feedback plugin a feedback page is filed under (a valid get_plugin_by_type(subtype, type))
FEEDBACK_PLUGIN = ("assignfeedback", "file")


@dataclass(frozen=True)
class Participant:
    """Who a file in Moodle's submission zip belongs to."""

    number: int
    """Moodle's unique id for the student in this assignment: the N of "Participant N" in the worksheet"""
    label: str
    """the name part of the prefix: the student's full name, or "Participant" under blind marking"""
    prefix_parts: int
    """how many leading path parts the Moodle prefix took (1: folder or flat file name)"""
    rest: str
    """the file's own path after the prefix ("tp1.ipynb", "sub/tp1.ipynb")"""


def participant_of(path: str) -> Participant | None:
    """The participant a path of Moodle's submission zip names, by importziplib's own rule; else ``None``.

    ``path`` uses '/' between parts. The first part that splits as NAME_N_SUBTYPE_TYPE[_REST] with N a
    number names the participant (Moodle then checks N against its participants; we check it against the
    worksheet).
    """
    parts = path.split("/")
    for index, part in enumerate(parts):
        pieces = part.split("_", 4)  # PHP explode('_', $part, 5)
        if len(pieces) < 4 or not pieces[1].isdigit():  # ASCII digits only: is_numeric, without signs/dots
            continue
        number = int(pieces[1])
        if not pieces[2] or not pieces[3]:
            continue
        rest = "/".join(([pieces[4]] if len(pieces) == 5 and pieces[4] else []) + parts[index + 1 :])
        return Participant(number=number, label=pieces[0], prefix_parts=index + 1, rest=rest)
    return None


def feedback_entry_name(label: str, number: int, filename: str) -> str:
    """The feedback zip's entry for participant ``number``: ``LABEL_N_assignfeedback_file/FILENAME``.

    The folder form Moodle ≥ 4.1 downloads (and importziplib reads back, whatever the plugin named);
    ``label`` has its '_' and '/' replaced as downloader.php does, so the number stays the second piece.
    """
    clean = re.sub(r"[_/\\\x00-\x1f\x7f]", " ", label).strip().lstrip(".~") or "Participant"
    subtype, plugin = FEEDBACK_PLUGIN
    return f"{clean}_{number}_{subtype}_{plugin}/{filename}"


# --------------------------------------------------------------------------------------------------
# The worksheet as Moodle writes it, and reads it
#
# Written: mod/assign/feedback/offline/locallib.php (moodle/moodle@04975560), download_grades(): an
# assign_grading_table downloaded as 'csv' → dataformat_csv (dataformat/csv/classes/writer.php) → spout_base
# (lib/classes/dataformat/spout_base.php) → the (Open)Spout CSV writer: lib/openspout/src/Writer/CSV/Options.php
# (moodle/moodle@0e30590f) FIELD_DELIMITER ',' (line 9), FIELD_ENCLOSURE '"' (line 10), SHOULD_ADD_BOM true
# (line 11): a UTF-8 BOM (Writer.php openWriter()), then PHP fputcsv(..., ',', '"', '') rows, "\n" at the end
# of each. fputcsv quotes a field that holds the delimiter, '"', "\n", "\r", "\t" or a space.
# Numbers: gradingtable.php display_grade() writes format_float($grade, $gradeitem->get_decimals()) when
# downloading, col_grademax() the same for the maximum; format_float (lib/moodlelib.php) uses
# get_string('decsep', 'langconfig'): '.' in English, ',' in French (fr/langconfig.php).
# A scale: the worksheet has a 'Scale' column instead of the maximum, and the grade is an item's text.
#
# Read: importgradeslib.php parsecsv() (line 88): csv_import_reader::load_csv_content($csvdata, encoding,
# separator), 'utf-8' and 'comma' unless chosen on the upload form (constructor defaults, line 72).
# lib/csvlib.class.php load_csv_content(): converts to UTF-8, strips the BOM, turns "\r\n" and "\r" into
# "\n", trims the text, then fgetcsv() (escape '\\') each record; every record must have the header's
# number of fields ('csvweirdcolumns').
# The identifier: importgradeslib.php next(), line 181: substr($idstr, strlen(get_string('hiddenuser')))
# then get_user_id_for_uniqueid(); written by gradingtable.php col_recordid() as hiddenuser . uniqueid:
# "Participant 1234" in English, "Participant1234" in French.
# The grade: offline/locallib.php process_import_grades(): unformat_float($record->grade) (lib/moodlelib.php:
# trim, spaces removed, the site's decsep replaced by '.', then (float) — so "18,57" reads as 18 on an
# English site while "18.57" reads right everywhere); skipped when empty, < 0, above the assignment's
# maximum, unchanged, locked ('Grade can be changed'), or when Moodle's grade is more than 60 s newer than
# the row's 'Last modified (grade)' (unless "Ignore last modified date" is ticked). A scale grade must be
# one of the scale's items (array_search).
# The feedback comment: set_editor_text() stores the cell as the comment's text (FORMAT_HTML for a new
# comment): the cell is HTML.


@dataclass
class Worksheet:
    """A grading worksheet: its text, its records with the span of every field, and the columns drlab fills."""

    path: Path
    text: str
    """the file's text after its BOM (the BOM, if any, is written back as it was)"""
    bom: bool
    delimiter: str
    header: list[str]
    records: list[list[tuple[int, int, str]]]
    """per data record: (start, end, value) of each field, offsets into ``text``"""
    identifier: int
    grade: int
    max_grade: int
    feedback: int | None
    """the Feedback comments column, or None when the assignment has none enabled"""
    decimal_separator: str
    participants: dict[int, int] = field(default_factory=dict)
    """participant number → index in ``records``"""

    def maximum(self, record: int) -> Decimal | None:
        """The row's 'Maximum grade' as a number (the site writes it with its decimal separator)."""
        return parse_decimal(self.records[record][self.max_grade][2])

    def filled(self, cells: dict[int, tuple[str, str]]) -> bytes:
        """The worksheet with, for each participant number in ``cells``, its (grade, feedback) fields
        replaced; every other byte as it was."""
        edits: list[tuple[int, int, str]] = []
        for number, (grade, feedback) in cells.items():
            record = self.records[self.participants[number]]
            start, end, _ = record[self.grade]
            edits.append((start, end, csv_field(grade, self.delimiter)))
            if self.feedback is not None:
                start, end, _ = record[self.feedback]
                edits.append((start, end, csv_field(feedback, self.delimiter)))
        pieces = []
        position = 0
        for start, end, new in sorted(edits):
            pieces.append(self.text[position:start])
            pieces.append(new)
            position = end
        pieces.append(self.text[position:])
        return ("\ufeff" if self.bom else "").encode("utf-8") + "".join(pieces).encode("utf-8")


def csv_field(value: str, delimiter: str) -> str:
    """``value`` as PHP's fputcsv writes it (enclosure '"', no escape character): quoted when it holds the
    delimiter, a quote, a line break, a tab or a space; a quote inside is doubled."""
    if any(char in value for char in (delimiter, '"', "\n", "\r", "\t", " ")):
        return '"' + value.replace('"', '""') + '"'
    return value


def tokenize(text: str, delimiter: str) -> list[list[tuple[int, int, str]]]:
    """Split CSV ``text`` into records of (start, end, value) fields; a quoted field spans its quotes.

    Blank lines are kept as records of one empty field (Moodle's reader skips them, and so does drlab).
    Raises ``ValueError`` on a quote that never closes.
    """
    records: list[list[tuple[int, int, str]]] = []
    record: list[tuple[int, int, str]] = []
    position, size = 0, len(text)
    while position < size or record:
        start = position
        if position < size and text[position] == '"':
            closing = position + 1
            chunks = []
            while True:
                quote = text.find('"', closing)
                if quote < 0:
                    raise ValueError(f"a quoted field that never closes (from character {start})")
                chunks.append(text[closing:quote])
                if text.startswith('"', quote + 1):  # a doubled quote inside the field
                    chunks.append('"')
                    closing = quote + 2
                    continue
                position = quote + 1
                break
            # characters after the closing quote, up to the delimiter, belong to the field (as in fgetcsv)
            stop = _field_end(text, position, delimiter)
            value = "".join(chunks) + text[position:stop]
            position = stop
        else:
            position = _field_end(text, position, delimiter)
            value = text[start:position]
        record.append((start, position, value))
        if position < size and text[position] == delimiter:
            position += 1
            continue
        if text.startswith("\r\n", position):
            position += 2
        elif position < size:
            position += 1  # "\n" or "\r"
        records.append(record)
        record = []
        if position >= size:
            break
    return records


def _field_end(text: str, position: int, delimiter: str) -> int:
    stop = _STOPS[delimiter].search(text, position)
    return stop.start() if stop else len(text)


_STOPS = {delimiter: re.compile(f"[{re.escape(delimiter)}\r\n]") for delimiter in (",", ";", "\t")}


_NUMBER = re.compile(r"^[+-]?\d+(?:[.,]\d+)?$")


def parse_decimal(text: str) -> Decimal | None:
    """A number as Moodle writes it (format_float: '.' or ',' as decimal separator, no grouping)."""
    cleaned = text.strip().replace(" ", "").replace("\u00a0", "").replace("\u202f", "")
    if not _NUMBER.match(cleaned):
        return None
    return Decimal(cleaned.replace(",", "."))


def format_grade(score: int, max_score: int, maximum: Decimal, separator: str) -> str:
    """``score`` of ``max_score`` checks as points out of the assignment's ``maximum``, two decimals (as
    Moodle displays them), half away from zero (as PHP's number_format), with the worksheet's separator."""
    points = (Decimal(score) * maximum / Decimal(max_score)) if max_score > 0 else Decimal(0)
    return str(points.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)).replace(".", separator)


_IDENTIFIER = re.compile(r"^\D*?(\d+)\s*$")


def participant_number(identifier: str) -> int | None:
    """N of an Identifier cell ("Participant 1234", "Participant1234"); ``None`` when it has none."""
    match = _IDENTIFIER.match(identifier)
    return int(match.group(1)) if match else None


def read_worksheet(path: Path, columns: str | None = None) -> Worksheet:
    """Read and check a grading worksheet; :class:`UsageError` (one line) when it cannot be filled.

    ``columns`` ("IDENTIFIER,GRADE,MAXIMUM[,FEEDBACK]") names the columns by hand, for a site in another
    language; otherwise the English and French names are matched exactly, as Moodle matches them.
    """
    where = f"--moodle {path}"
    if path.is_symlink() or not path.is_file():
        raise UsageError(
            f"{where}: not a regular file (give the worksheet that Moodle's 'Download grading worksheet' saved)"
        )
    raw = path.read_bytes()
    if len(raw) > MAX_WORKSHEET_BYTES:
        raise UsageError(f"{where}: {len(raw) >> 20} MiB, too large for a grading worksheet")
    bom = raw.startswith(b"\xef\xbb\xbf")
    try:
        text = raw[3 if bom else 0 :].decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(
            f"{where}: not UTF-8 text (Moodle writes UTF-8): download it again, or save it as 'CSV UTF-8'"
        ) from None
    candidates = _candidates(columns)
    widest: list[str] = []
    for delimiter in (",", ";", "\t"):  # Moodle writes ','; a spreadsheet may save ';' or tabs
        try:
            records = tokenize(text, delimiter)
        except ValueError as exc:
            raise UsageError(f"{where}: not a CSV file Moodle can read ({exc})") from None
        if not records:
            raise UsageError(f"{where}: empty file")
        header = [value for _, _, value in records[0]]
        widest = max(widest, header, key=len)
        for names in candidates:
            if names.identifier in header and names.grade in header:
                return _worksheet(path, text, bom, delimiter, records, names, custom=columns is not None)
    shown = ", ".join(f"“{name}”" for name in widest[:12]) + (" …" if len(widest) > 12 else "")
    expected = (
        f"“{candidates[0].identifier}”, “{candidates[0].grade}”"
        if columns
        else "“Identifier”, “Grade” (French: “Identifiant”, “Note”)"
    )
    raise UsageError(
        f"{where}: no columns {expected} in it (its columns: {shown}); name them with "
        "--moodle-columns 'IDENTIFIER,GRADE,MAXIMUM GRADE[,FEEDBACK COMMENTS]'"
    )


def _candidates(columns: str | None) -> list[SiteStrings]:
    """The column names to look for: each language's, or the ones ``--moodle-columns`` gives."""
    if columns is None:
        return list(SITE_STRINGS.values())
    names = [name.strip() for name in columns.split(",")]
    if len(names) not in (3, 4) or not all(names):
        raise UsageError(
            f"--moodle-columns {columns!r}: give 3 or 4 column names separated by commas: "
            "'IDENTIFIER,GRADE,MAXIMUM GRADE[,FEEDBACK COMMENTS]'"
        )
    feedback = names[3] if len(names) == 4 else ""
    return [SiteStrings(names[0], names[1], modified="", max_grade=(names[2],), feedback=feedback, scale="")]


def _worksheet(
    path: Path, text: str, bom: bool, delimiter: str, records: list[list[tuple[int, int, str]]],
    names: SiteStrings, *, custom: bool,
) -> Worksheet:  # fmt: skip
    where = f"--moodle {path}"
    header = [value for _, _, value in records[0]]
    maximum = next((header.index(name) for name in names.max_grade if name in header), None)
    if maximum is None and names.scale and names.scale in header:
        raise UsageError(
            f"{where}: this assignment is graded on a scale (column “{names.scale}”); drlab gives points: "
            "set the assignment's grade type to Point, then download the worksheet again"
        )
    if maximum is None:
        raise UsageError(
            f"{where}: no “{names.max_grade[0]}” column (its columns: {', '.join(header)}); name it with "
            "--moodle-columns 'IDENTIFIER,GRADE,MAXIMUM GRADE[,FEEDBACK COMMENTS]'"
        )
    if not custom and names.modified not in header:
        raise UsageError(
            f"{where}: no “{names.modified}” column: Moodle refuses a worksheet without it "
            "(importgradeslib.php init()): download the worksheet again rather than editing its columns"
        )
    if custom and names.feedback and names.feedback not in header:
        raise UsageError(f"--moodle-columns: no column “{names.feedback}” in {path}")
    feedback = header.index(names.feedback) if names.feedback in header else None
    identifier = header.index(names.identifier)
    data: list[list[tuple[int, int, str]]] = []
    participants: dict[int, int] = {}
    for line, record in enumerate(records[1:], start=2):
        if len(record) == 1 and record[0][2] == "":
            continue  # a blank line: Moodle's reader skips it too
        if len(record) != len(header):
            raise UsageError(
                f"{where}: record {line} has {len(record)} fields where the header has {len(header)}; Moodle "
                "would refuse it too ('csvweirdcolumns'): download the worksheet again"
            )
        number = participant_number(record[identifier][2])
        if number is not None:
            if number in participants:
                raise UsageError(f"{where}: participant {number} appears twice")
            participants[number] = len(data)
        data.append(record)
    maxima = [record[maximum][2] for record in data]
    sheet = Worksheet(
        path=path, text=text, bom=bom, delimiter=delimiter, header=header, records=data,
        identifier=identifier, grade=header.index(names.grade), max_grade=maximum, feedback=feedback,
        decimal_separator="," if any("," in value and "." not in value for value in maxima) else ".",
        participants=participants,
    )  # fmt: skip
    for number, index in participants.items():
        if sheet.maximum(index) is None:
            raise UsageError(
                f"{where}: participant {number}'s maximum grade “{maxima[index]}” is not a number"
            )
    return sheet


__all__ = [
    "FEEDBACK_PLUGIN",
    "SITE_STRINGS",
    "Participant",
    "SiteStrings",
    "Worksheet",
    "csv_field",
    "feedback_entry_name",
    "format_grade",
    "parse_decimal",
    "participant_number",
    "participant_of",
    "read_worksheet",
    "tokenize",
]
