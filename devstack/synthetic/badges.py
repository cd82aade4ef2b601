"""Synthetic issued badges: who holds how many, in which order, states, privacy and expiry."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from devstack.credly.records import BadgeTemplate, CredlyData, IssuedBadge
from devstack.synthetic.catalogue import Catalogue
from devstack.synthetic.draws import below, new_id, pick
from devstack.synthetic.people import Person
from devstack.synthetic.spec import HISTORY, SHARES, WorldSpec
from devstack.synthetic.vocabulary import REVOCATION_REASONS

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
ISSUE_STATES = ("pending", "accepted", "rejected", "revoked")
OTHER_LOCALES = ("fr", "de", "ja", "es", "pt-BR")
PARETO_ALPHA = 2.5
"""Tail of the badges-per-person weights: most hold one to three, a few hold dozens."""
SAME_INSTANT_SHARE = 0.02
"""Share of badges issued in the same millisecond as the previous one (bulk issuing)."""


def issue_badges(
    spec: WorldSpec,
    rng: random.Random,
    credly: CredlyData,
    *,
    catalogue: Catalogue,
    people: list[Person],
    holders: list[bool],
) -> None:
    """Issue exactly `spec.badges` badges to the holders and store them in issue order.

    Each holder gets at least one badge (when there are enough), and the rest follow
    heavy-tailed weights; the issue order is shuffled so one person's badges land on many
    pages. A person's badges use distinct templates, except that a replacement repeats the
    template of the badge it replaces. Appends each badge id to its person's `badge_ids`.
    `holders` says whether each person holds badges.
    """
    total = spec.badges
    if total == 0:
        return
    counts = _badge_counts(rng, holders, total, cap=len(catalogue.templates))
    slots = [index for index, count in enumerate(counts) for _ in range(count)]
    rng.shuffle(slots)
    positions: list[list[int]] = [[] for _ in people]
    for position, index in enumerate(slots):
        positions[index].append(position)

    templates = _slot_templates(rng, positions, catalogue.templates, total)
    target = round(total * SHARES.replaced)
    replaced_by = _replacement_pairs(rng, people, positions, target)
    replaces: dict[int, int] = {}
    for position, later in enumerate(replaced_by):
        if later >= 0:
            templates[later] = templates[position]
            replaces[later] = position
    issued_ms = _issue_instants(rng, total)
    ids = [new_id(rng) for _ in range(total)]
    p = SHARES
    states = rng.choices(
        ISSUE_STATES, weights=(p.pending, p.accepted, p.rejected, p.revoked), k=total
    )
    clock = _Clock(spec)
    for position in range(total):
        person = people[slots[position]]
        template = templates[position]
        later = replaced_by[position]
        state = _final_state(
            states[position], person, replaced=later >= 0, replacement=position in replaces
        )
        t = issued_ms[position]
        accepted_ms, changed_ms = _lifecycle(
            rng,
            clock.now_ms,
            state,
            issued_ms=t,
            replaced_at_ms=issued_ms[later] if later >= 0 else None,
            was_accepted=rng.random() < 0.7 and person.credly_user_id is not None,
        )
        public = rng.random() >= p.private
        updated_ms = changed_ms
        if not public:
            updated_ms = min(clock.now_ms, changed_ms + HOUR_MS + below(rng, 90 * DAY_MS))
        issued_at = clock.at(t)
        changed_at = clock.at(changed_ms, reuse=(t, issued_at))
        badge_id = ids[position]
        credly.put_badge(
            IssuedBadge(
                id=badge_id,
                org_id=template.owner_org_id,
                template_id=template.id,
                recipient_email=person.credly_email,
                issued_to_first_name=person.first_name,
                issued_to_last_name=person.last_name,
                user_id=person.credly_user_id,
                state=state,
                public=public,
                issued_at=issued_at,
                expires_at=_expiry(rng, clock, t),
                created_at=issued_at,
                updated_at=clock.at(updated_ms, reuse=(changed_ms, changed_at)),
                state_updated_at=changed_at,
                accepted_at=(
                    None
                    if accepted_ms is None
                    else clock.at(accepted_ms, reuse=(changed_ms, changed_at))
                ),
                replaces_badge_id=ids[replaces[position]] if position in replaces else None,
                replacement_badge_id=ids[later] if later >= 0 else None,
                revocation_reason=pick(rng, REVOCATION_REASONS) if state == "revoked" else None,
                issuer_earner_id=person.earner_id,
                locale="en" if rng.random() < 0.9 else pick(rng, OTHER_LOCALES),
                issuer_org_ids=catalogue.issuers[template.id],
            )
        )
        person.badge_ids.append(badge_id)


class _Clock:
    """Milliseconds since the history start, turned into datetimes."""

    def __init__(self, spec: WorldSpec) -> None:
        self.start = spec.history_start
        self.now_ms = _ms(HISTORY)

    def at(self, ms: int, reuse: tuple[int, datetime] | None = None) -> datetime:
        """The instant `ms`, or the `reuse` datetime when it is the same instant.

        Sharing equal datetimes between fields keeps 200,000 badges small.
        """
        if reuse is not None and reuse[0] == ms:
            return reuse[1]
        return self.start + timedelta(milliseconds=ms)


def _final_state(drawn: str, person: Person, *, replaced: bool, replacement: bool) -> str:
    if replaced:
        return "replaced"
    if person.credly_user_id is None:
        # Without an account nobody can accept or reject: pending, or revoked unseen.
        return "revoked" if drawn == "revoked" else "pending"
    if replacement and drawn == "rejected":
        return "accepted"
    return drawn


def _lifecycle(
    rng: random.Random,
    now_ms: int,
    state: str,
    *,
    issued_ms: int,
    replaced_at_ms: int | None,
    was_accepted: bool,
) -> tuple[int | None, int]:
    """When the badge was accepted (or None) and when its state last changed.

    `was_accepted` says whether a revoked badge had been accepted before.
    """
    accepted_ms: int | None = None
    if state in ("accepted", "replaced") or (state == "revoked" and was_accepted):
        accepted_ms = min(now_ms, issued_ms + MINUTE_MS + below(rng, 20 * DAY_MS))
    if replaced_at_ms is not None:
        return min(accepted_ms or issued_ms, replaced_at_ms), replaced_at_ms
    if state == "pending":
        return None, issued_ms
    if state == "accepted":
        return accepted_ms, accepted_ms or issued_ms
    if state == "rejected":
        return None, min(now_ms, issued_ms + MINUTE_MS + below(rng, 30 * DAY_MS))
    return accepted_ms, min(now_ms, (accepted_ms or issued_ms) + HOUR_MS + below(rng, 400 * DAY_MS))


def _ms(delta: timedelta) -> int:
    return delta // timedelta(milliseconds=1)


def _badge_counts(rng: random.Random, holders: list[bool], total: int, cap: int) -> list[int]:
    """Badges per person: one each for the holders, the rest by heavy-tailed weights."""
    counts = [0] * len(holders)
    holder_indexes = [i for i, holds in enumerate(holders) if holds]
    if total <= len(holder_indexes):
        for i in rng.sample(holder_indexes, total):
            counts[i] = 1
        return counts
    for i in holder_indexes:
        counts[i] = 1
    cumulative: list[float] = []
    running = 0.0
    for _ in holder_indexes:
        running += rng.paretovariate(PARETO_ALPHA)
        cumulative.append(running)
    picks = rng.choices(holder_indexes, cum_weights=cumulative, k=total - len(holder_indexes))
    for i in picks:
        counts[i] += 1
    # Nobody holds more badges than there are templates while others have room.
    overflow = 0
    for i in holder_indexes:
        if counts[i] > cap:
            overflow += counts[i] - cap
            counts[i] = cap
    room = [i for i in holder_indexes if counts[i] < cap]
    while overflow and room:
        slot = below(rng, len(room))
        i = room[slot]
        counts[i] += 1
        overflow -= 1
        if counts[i] == cap:
            room[slot] = room[-1]
            room.pop()
    if overflow:
        counts[holder_indexes[0]] += overflow
    return counts


def _slot_templates(
    rng: random.Random,
    positions: list[list[int]],
    templates: tuple[BadgeTemplate, ...],
    total: int,
) -> list[BadgeTemplate]:
    """A template per issue position: distinct per person while the catalogue allows."""
    chosen: list[BadgeTemplate | None] = [None] * total
    for person_positions in positions:
        k = len(person_positions)
        if k == 0:
            continue
        if k <= len(templates):
            picks = rng.sample(templates, k)
        else:
            picks = [pick(rng, templates) for _ in range(k)]
        for position, template in zip(person_positions, picks, strict=True):
            chosen[position] = template
    return [t for t in chosen if t is not None]


def _replacement_pairs(
    rng: random.Random, people: list[Person], positions: list[list[int]], target: int
) -> list[int]:
    """For each issue position, the later position replacing it (-1 for none).

    Only a person's consecutive badges pair up, and no badge is in two pairs, so there are
    no chains; people without a Credly account have none.
    """
    candidates = [
        (person_positions[j], person_positions[j + 1])
        for person, person_positions in zip(people, positions, strict=True)
        if person.credly_user_id is not None
        for j in range(len(person_positions) - 1)
    ]
    rng.shuffle(candidates)
    replaced_by = [-1] * sum(len(p) for p in positions)
    paired: set[int] = set()
    for earlier, later in candidates:
        if target <= 0:
            break
        if earlier in paired or later in paired:
            continue
        paired.update((earlier, later))
        replaced_by[earlier] = later
        target -= 1
    return replaced_by


def _issue_instants(rng: random.Random, total: int) -> list[int]:
    """Issue instants (milliseconds after the history start), non-decreasing in issue order.

    Spread evenly over the history with jitter, ending at least an hour before `now`; a few
    share the previous badge's instant, as bulk issuing does.
    """
    span = max(total, _ms(HISTORY) - HOUR_MS)
    step = max(1, span // total)
    instants: list[int] = []
    previous = 0
    for i in range(total):
        if i and rng.random() < SAME_INSTANT_SHARE:
            instants.append(previous)
            continue
        previous = (i * span) // total + below(rng, step)
        instants.append(previous)
    return instants


def _expiry(rng: random.Random, clock: _Clock, issued_ms: int) -> datetime | None:
    p = SHARES
    now_ms = clock.now_ms
    draw = rng.random()
    if draw < p.no_expiry:
        return None
    if draw < p.no_expiry + p.expired and now_ms - issued_ms > 2:
        return clock.at(issued_ms + 1 + below(rng, now_ms - issued_ms - 2))
    return clock.at(now_ms + DAY_MS + below(rng, 3 * 365 * DAY_MS))
