"""Domain values: what the rules read and write. No I/O here."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from .records import Record


class LessonType(StrEnum):
    TEST_OUT = "test-out"
    PLACEMENT = "placement"
    UNIT_TEST = "unit-test"


class ToolProvider(StrEnum):
    EDULASTIC = "edulastic"
    MASTERY_TRACK = "mastery-track"


class Difficulty(StrEnum):
    EASY = "easy"
    MEDIUM = "medium"
    HARD = "hard"

    @classmethod
    def of(cls, value: object) -> Difficulty:
        """The provider's difficulty when it is one of ours, else medium (the contract's default)."""
        return cls(value) if isinstance(value, str) and value in cls._value2member_map_ else cls.MEDIUM


class ScoreStatus(StrEnum):
    NOT_SUBMITTED = "not submitted"
    SUBMITTED = "submitted"
    PARTIALLY_GRADED = "partially graded"
    FULLY_GRADED = "fully graded"
    EXEMPT = "exempt"


@dataclass(frozen=True, kw_only=True)
class Student(Record):
    """A OneRoster user as the rules see it."""

    id: str
    email: str | None = None
    given_name: str = ""
    family_name: str = ""
    is_student: bool = False
    primary_org: str | None = None


@dataclass(frozen=True, kw_only=True)
class Lesson(Record):
    """A ComponentResource together with its Resource.

    `lesson_type` and `tool_provider` hold the raw strings from the roster (they may be
    anything); `rules.check_lesson` turns them into the enums, or refuses the lesson.
    """

    id: str  # the ComponentResource sourcedId
    resource_id: str | None = None
    title: str = ""
    lesson_type: str | None = None
    tool_provider: str | None = None
    vendor_id: str | None = None  # Edulastic test id
    subject: str | None = None
    grade: str | None = None  # OneRoster grade string, "-1".."13"
    course_id_on_fail: str | None = None
    xp: float = 0.0
    url: str | None = None


@dataclass(kw_only=True)
class QuestionResult(Record):
    id: str
    index: int
    title: str = ""
    url: str | None = None
    difficulty: Difficulty = Difficulty.MEDIUM
    score: float = 0.0  # raw points scored
    max_score: float = 1.0
    answered: bool = False
    graded: bool = False
    pending_evaluation: bool = False
    correct: bool = False
    feedback: str = ""

    @property
    def credit(self) -> float:
        """The question's share of the test: score ÷ maxScore, clamped to 0–1."""
        if self.max_score <= 0:
            return 0.0
        return max(0.0, min(1.0, self.score / self.max_score))


@dataclass(frozen=True, kw_only=True)
class Credentials(Record):
    email: str
    password: str


@dataclass(kw_only=True)
class ProviderAccount(Record):
    """What the service knows of a student on one provider (password encrypted at rest)."""

    provider: ToolProvider
    email: str
    password_ciphertext: str | None = None  # set before the provider call, so a crash keeps it
    provider_user_id: str | None = None
    created_by_service: bool | None = None  # None until the provider told us


@dataclass(kw_only=True)
class Scores(Record):
    score: float | None = None
    accuracy: float | None = None
    correct_questions: int = 0
    total_questions: int = 0
    questions: list[QuestionResult] = field(default_factory=list)
