from sqlmodel import select

from tests.utils.factories import make_context
from wardprog.models import Ward


def test_factories_write_real_rows(session, settings):
    ctx = make_context(session, settings)
    session.commit()
    assert session.exec(select(Ward).where(Ward.code == ctx.ward.code)).one().site_id == ctx.site.id
