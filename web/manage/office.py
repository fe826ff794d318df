"""An office's page (counters, clerks, scale, committee) and its counters and committee.

The committee (its members, their roles, the quorum) cannot change while one of the
office's ceremonies is under way, nor so that the quorum could no longer be reached; every
change is recorded (``web.committee_changes``) for the checklist and the minutes."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select
from wtforms import IntegerField, SelectField, StringField, TextAreaField, ValidationError
from wtforms.validators import DataRequired, Length, NumberRange

from hom_phieu.i18n import N_, _
from web import committee_codes, db
from web.auth import audit, roles_required, units_in_scope
from web.committee_changes import change_refusal, lock_office, record, under_way_refusal
from web.confirm import ConfirmForm, ask, confirmed
from web.labels import COMMITTEE_ROLE_LABELS
from web.manage.common import (
    EDITORS,
    READERS,
    Form,
    ancestors,
    bp,
    can_edit,
    choices,
    commit,
    strip,
)
from web.models import Clerk, CommitteeMember, Counter, Office, ProcedureField, Role, User
from web.models_committee import ChangeKind
from web.pages import office_or_404
from web.quorum import MAX_QUORUM, MIN_QUORUM
from web.survey_criteria import criteria_of


class CounterForm(Form):
    name = StringField(
        N_("Counter name"), filters=[strip], validators=[DataRequired(), Length(max=200)]
    )

    def __init__(self, *args, office: Office, counter: Counter | None = None, **kwargs) -> None:
        super().__init__(*args, obj=counter, **kwargs)
        self.office, self.counter = office, counter

    def validate_name(self, field) -> None:
        same = (Counter.office_id == self.office.id) & (Counter.name == field.data)
        taken = db.session().scalar(select(Counter.id).where(same))
        if taken is not None and (self.counter is None or taken != self.counter.id):
            raise ValidationError(_("this office has a counter with this name already"))


class MemberForm(Form):
    user = SelectField(coerce=int, validators=[DataRequired()])
    committee_role = SelectField(validators=[DataRequired()])

    def __init__(self, *args, office: Office, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.office = office
        self.user.choices = [
            (user.id, f"{user.display_name} ({user.username})")
            for user in committee_candidates(office)
        ]
        self.committee_role.choices = choices(COMMITTEE_ROLE_LABELS)

    def validate_user(self, field) -> None:
        taken = db.session().scalar(
            select(CommitteeMember.id).where(
                CommitteeMember.office_id == self.office.id, CommitteeMember.user_id == field.data
            )
        )
        if taken is not None:
            raise ValidationError(_("this account is on the committee already"))


class CriteriaForm(Form):
    criteria = TextAreaField(N_("Criteria"), validators=[Length(max=2000)])

    def validate_criteria(self, field) -> None:
        lines = criteria_lines(field.data)
        if len(lines) > MAX_CRITERIA:
            raise ValidationError(
                _("at most {count} criteria, one per line").format(count=MAX_CRITERIA)
            )
        if any(len(line) > 200 for line in lines):
            raise ValidationError(_("a criterion can be at most 200 characters"))
        if len(set(lines)) != len(lines):
            raise ValidationError(_("each criterion may appear only once"))


MAX_CRITERIA = 10


def criteria_lines(text: str | None) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


class QuorumForm(Form):
    quorum = IntegerField(validators=[DataRequired(), NumberRange(min=MIN_QUORUM, max=MAX_QUORUM)])


class RoleForm(Form):
    committee_role = SelectField(validators=[DataRequired()])

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.committee_role.choices = choices(COMMITTEE_ROLE_LABELS)


def committee_candidates(office: Office) -> list[User]:
    """Active committee accounts that can see the office (their unit is the office's unit or
    above it), that the current administrator can see, and that are not on the office's
    committee already."""
    scope = units_in_scope()
    above = [unit_id for unit_id in ancestors(office.unit) if scope is None or unit_id in scope]
    where = User.unit_id.in_(above)
    if scope is None:
        where = where | User.unit_id.is_(None)
    members = select(CommitteeMember.user_id).where(CommitteeMember.office_id == office.id)
    query = select(User).where(
        where, User.active.is_(True), User.role == Role.COMMITTEE, User.id.not_in(members)
    )
    return list(db.session().scalars(query.order_by(User.display_name)))


def render_office(
    office: Office,
    counter_form: CounterForm | None = None,
    member_form: MemberForm | None = None,
    quorum_form: QuorumForm | None = None,
    criteria_form: CriteriaForm | None = None,
    status: int = 200,
    committee_error: str | None = None,
):
    """The office page; a form that failed comes back with its errors (and a 400), a
    refused change of the committee with its reason."""
    session = db.session()
    clerks = session.scalars(
        select(Clerk).where(Clerk.office_id == office.id).order_by(Clerk.active.desc(), Clerk.name)
    )
    members = session.scalars(select(CommitteeMember).where(CommitteeMember.office_id == office.id))
    fields = dict(session.execute(select(ProcedureField.id, ProcedureField.name)).all())
    is_admin = current_user.role == Role.ADMIN
    counters = sorted(office.counters, key=lambda counter: counter.id)
    page = render_template(
        "manage/office.html",
        office=office,
        counters=counters,
        counter_names={counter.id: counter.name for counter in counters},
        clerks=list(clerks),
        members=list(members),
        code_states=committee_codes.states(session, office.id),
        committee_error=committee_error,
        fields=fields,
        editable=can_edit(),
        counter_form=counter_form or (CounterForm(office=office) if can_edit() else None),
        member_form=member_form or (MemberForm(office=office) if is_admin else None),
        quorum_form=quorum_form or (QuorumForm(obj=office, formdata=None) if is_admin else None),
        criteria=criteria_of(office),
        criteria_form=criteria_form
        or (
            CriteriaForm(formdata=None, criteria="\n".join(criteria_of(office)))
            if can_edit()
            else None
        ),
    )
    return page, status


@bp.get("/offices/<int:office_id>")
@roles_required(*READERS)
def office(office_id: int):
    return render_office(office_or_404(office_id))


@bp.post("/offices/<int:office_id>/counters")
@roles_required(*EDITORS)
def counter_new(office_id: int):
    office = office_or_404(office_id)
    form = CounterForm(office=office)
    if not form.validate():
        return render_office(office, counter_form=form, status=400)
    counter = Counter(office_id=office.id, name=form.name.data)
    db.session().add(counter)
    db.session().flush()
    audit("counter_added", f"counter {counter.id}", office=office.code, name=counter.name)
    db.session().commit()
    flash(_("The counter “{name}” is added.").format(name=counter.name))
    return redirect(url_for("manage.office", office_id=office.id))


@bp.route("/counters/<int:counter_id>/edit", methods=["GET", "POST"])
@roles_required(*EDITORS)
def counter_edit(counter_id: int):
    counter = db.session().get(Counter, counter_id) or abort(404)
    office = office_or_404(counter.office_id)
    form = CounterForm(office=office, counter=counter)
    if form.is_submitted():
        if form.validate():
            before, counter.name = counter.name, form.name.data
            audit("counter_renamed", f"counter {counter.id}", office=office.code,
                  before=before, after=counter.name)  # fmt: skip
            db.session().commit()
            flash(_("The counter is renamed “{name}”.").format(name=counter.name))
            return redirect(url_for("manage.office", office_id=office.id))
        return render_template("manage/counter_form.html", form=form, counter=counter), 400
    return render_template("manage/counter_form.html", form=form, counter=counter)


@bp.post("/offices/<int:office_id>/committee")
@roles_required()
def member_new(office_id: int):
    office = office_or_404(office_id)
    form = MemberForm(office=office)
    if not form.validate():
        return render_office(office, member_form=form, status=400)
    session = db.session()
    lock_office(session, office.id)
    refusal = under_way_refusal(session, office.id)
    if refusal is not None:
        form.user.errors = [*form.user.errors, refusal]
        return render_office(office, member_form=form, status=409)
    user = session.get(User, form.user.data)
    member = CommitteeMember(
        office_id=office.id, user_id=user.id, committee_role=form.committee_role.data
    )
    session.add(member)
    audit("committee_member_added", f"office {office.code}", user=user.username,
          committee_role=member.committee_role)  # fmt: skip
    record(session, office.id, ChangeKind.MEMBER_ADDED, member_id=user.id,
           committee_role=member.committee_role)  # fmt: skip
    if not commit(form.user, _("this account is on the committee already")):
        return render_office(office, member_form=form, status=400)
    flash(_("{name} is added to the committee.").format(name=user.display_name))
    return redirect(url_for("manage.office", office_id=office.id) + "#committee")


@bp.route("/committee/<int:member_id>/remove", methods=["GET", "POST"])
@roles_required()
def member_remove(member_id: int):
    """Asks first (``web.confirm``); undone by adding the member again (both changes are
    listed in the next minutes)."""
    session = db.session()
    member = session.get(CommitteeMember, member_id) or abort(404)
    office = office_or_404(member.office_id)
    refusal = change_refusal(session, office, removing=member.id)
    if refusal is not None:
        return render_office(office, status=409, committee_error=refusal)
    form = ConfirmForm()
    name = member.user.display_name
    if not confirmed(form):
        return ask(
            form,
            title=_("Remove a committee member"),
            text=_("{name} will no longer be on the committee of {office}; their confirmation "
                   "code is suspended.").format(name=name, office=office.name),
            undo=_("This can be undone by adding them again (they then set their code again); "
                   "both changes are listed in the next minutes."),
            button=_("Remove from the committee"),
            cancel=url_for("manage.office", office_id=office.id) + "#committee",
        )  # fmt: skip
    audit("committee_member_removed", f"office {office.code}", user=member.user.username,
          committee_role=member.committee_role)  # fmt: skip
    record(session, office.id, ChangeKind.MEMBER_REMOVED, member_id=member.user_id,
           committee_role=member.committee_role)  # fmt: skip
    committee_codes.suspend(session, office.id, member.user_id)
    session.delete(member)
    session.commit()
    flash(_("{name} is removed from the committee.").format(name=name))
    return redirect(url_for("manage.office", office_id=office.id) + "#committee")


@bp.post("/committee/<int:member_id>/role")
@roles_required()
def member_role(member_id: int):
    """A member's new role on the committee (the member keeps their confirmation code)."""
    session = db.session()
    member = session.get(CommitteeMember, member_id) or abort(404)
    office = office_or_404(member.office_id)
    form = RoleForm()
    if not form.validate():
        return render_office(office, status=400, committee_error=_("choose a committee role"))
    before, after = member.committee_role, form.committee_role.data
    if after == before:
        return redirect(url_for("manage.office", office_id=office.id) + "#committee")
    refusal = change_refusal(session, office, new_role=(member.id, after))
    if refusal is not None:
        return render_office(office, status=409, committee_error=refusal)
    member.committee_role = after
    audit("committee_role_changed", f"office {office.code}", user=member.user.username,
          before=before, after=after)  # fmt: skip
    record(session, office.id, ChangeKind.ROLE_CHANGED, member_id=member.user_id,
           committee_role=after, before=before, after=after)  # fmt: skip
    session.commit()
    flash(_("The committee role of {name} is changed.").format(name=member.user.display_name))
    return redirect(url_for("manage.office", office_id=office.id) + "#committee")


@bp.post("/offices/<int:office_id>/quorum")
@roles_required()
def quorum(office_id: int):
    """How many committee members must confirm an opening (k of n)."""
    office = office_or_404(office_id)
    form = QuorumForm()
    if not form.validate():
        return render_office(office, quorum_form=form, status=400)
    session = db.session()
    refusal = change_refusal(session, office, quorum=form.quorum.data)
    if refusal is not None:
        form.quorum.errors = [*form.quorum.errors, refusal]
        return render_office(office, quorum_form=form, status=409)
    before, office.quorum = office.quorum, form.quorum.data
    if before != office.quorum:
        audit("committee_quorum_changed", f"office {office.code}", before=before,
              after=office.quorum)  # fmt: skip
        record(session, office.id, ChangeKind.QUORUM_CHANGED, before=str(before),
               after=str(office.quorum))  # fmt: skip
    session.commit()
    flash(_("The quorum is saved: {quorum} confirmations.").format(quorum=office.quorum))
    return redirect(url_for("manage.office", office_id=office.id) + "#committee")


@bp.post("/offices/<int:office_id>/criteria")
@roles_required(*EDITORS)
def criteria(office_id: int):
    """The phone survey's detailed criteria; an empty list brings back the default set.
    Answers keep the words of the criteria they answered, so a change never mixes them."""
    office = office_or_404(office_id)
    form = CriteriaForm()
    if not form.validate():
        return render_office(office, criteria_form=form, status=400)
    before = criteria_of(office)
    office.survey_criteria = criteria_lines(form.criteria.data) or None
    audit("survey_criteria_changed", f"office {office.code}", before=before,
          after=criteria_of(office))  # fmt: skip
    db.session().commit()
    flash(_("The survey criteria are saved."))
    return redirect(url_for("manage.office", office_id=office.id) + "#survey")
