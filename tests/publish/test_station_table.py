"""The municipality page's station table, built in Python: the markup the template loop gave, byte for
byte, in every language, with every text escaped and every link as reverse() writes it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.template import Context, Template
from django.urls import reverse
from django.utils import translation
from django.utils.html import escape

from tallyroom.publish import standings as st
from tallyroom.publish.selectors import StationLine
from tallyroom.publish.station_reads import FormView
from tallyroom.publish.station_table import station_rows, station_url
from tallyroom.publish.templatetags.public import preference_tables

# The template loop that the Python builder replaces (templates/publish/municipality.html).
REFERENCE = Template(
    """{% load i18n public %}{% for s in stations %}<tr data-station="{{ s.code }}">
    <th scope="row"><a href="{% url 'publish:station' election.code s.slug %}">{{ s.code }}</a></th><td>{{ s.centre_name }}</td><td class="num">{{ s.registered|num }}</td>
    {% for cell in s.cells %}<td class="num">{{ cell.ballots_cast|num }}</td><td class="num">{{ cell.valid|num }}</td>
      <td class="count {{ cell.status }}">{{ cell.label }}{% if cell.repeat_round %} <span class="muted">({% blocktranslate with date=cell.repeat_round.date|date:"DATE_FORMAT" %}repeat voting, {{ date }}{% endblocktranslate %})</span>{% endif %}{% for d in cell.decisions %}<br><a href="#decision-{{ d.id }}">{{ d.legal_basis }}</a>{% endfor %}</td>{% endfor %}
  </tr>{% endfor %}"""  # noqa: E501
)
ODD_SLUGS = ["0101C_01R", "A B", "Ëç-ž", "a&b'c\"<d>", "50%", "x?y#z", "~:@!$()*+,;="]


def _lines() -> list[StationLine]:
    repeat = st.RoundInfo(7, "R1-repeat", "repeat", dt.date(2025, 10, 26), "Repeat <voting>")
    decision = st.Decision(3, 1, "LGE Art. 119 <b>&</b>", "why", dt.datetime(2025, 10, 20, tzinfo=dt.UTC), repeat, (1,))
    cells = [
        st.Standing(),
        st.Standing("counted-official", 11, None, [], 1234567, 1200000),
        st.Standing("counted-preliminary", 12, repeat, [decision], 0, 0),
        st.Standing("annulled-repeat-pending", None, None, [decision, decision]),
        st.Standing("annulled"),
        st.Standing("quarantined"),
    ]
    return [
        StationLine(
            n, slug.replace("_", "/"), slug, "C1", f"Centre «{n}» <&> \"q\" 'a'", "regular", 999 + n * 1000, cells
        )
        for n, slug in enumerate(ODD_SLUGS)
    ]


@pytest.mark.parametrize("lang", ["en", "sq", "sr-latn"])
def test_rows_are_the_template_loops_bytes(lang: str) -> None:
    lines = _lines()
    with translation.override(lang):
        expected = REFERENCE.render(Context({"stations": lines, "election": {"code": "sim"}}))
        got = station_rows(lines, "sim")
    assert got == expected
    assert "<b>" not in got and "«0» &lt;&amp;&gt; &quot;q&quot; &#x27;a&#x27;" in got


@pytest.mark.parametrize("lang", ["en", "sq"])
@pytest.mark.parametrize("code", ["sim", "e 1", "ë&"])
def test_station_urls_are_those_of_reverse(lang: str, code: str) -> None:
    with translation.override(lang):
        url = station_url(code)
        for slug in ODD_SLUGS:
            assert url(slug) == reverse("publish:station", args=[code, slug])


FORM_REFERENCE = Template(
    """{% load public %}{% for field, label, value in f.numbers %}<tr data-field="{{ field }}"><th scope="row">{{ label|capfirst }}</th><td class="num">{{ value|num }}</td></tr>{% endfor %}|{% for code, label, n in f.votes %}<tr data-entity="{{ code }}"><th scope="row">{% swatch code colours %} {{ label }}</th><td class="num votes">{{ n|num }}</td></tr>{% endfor %}|{% for entity, rows in f.preferences %}{{ entity }}{% for position, name, n in rows %}<tr><td class="num">{{ position }}</td><td>{{ name }}</td><td class="num">{{ n|num }}</td></tr>{% endfor %}{% endfor %}"""  # noqa: E501
)
FORM_TAGS = Template("{% load public %}{% form_numbers f %}|{% form_votes f colours %}|{% preference_tables f %}")


@pytest.mark.parametrize("lang", ["en", "sq", "sr-latn"])
def test_a_forms_rows_are_the_template_loops_bytes(lang: str) -> None:
    contest = st.ContestRef(1, "assembly", 1, st.RoundInfo(1, "R1", "first", dt.date(2025, 10, 12), "R1"), None, 41)
    form = FormView(
        1,
        contest,
        "official",
        "accepted",
        True,
        [("valid", "valid <votes>", 1234567), ("blank", "", 0), ("signatures", "signatures", None)],
        [("A&B", 'Arben "A" <i>', 12345), ("C'D", "Ëç", 0)],
        [('List "1" <&>', [(1, "Name <x> & 'y'", 2500), (12, "Ž", 0)])],
    )
    context = Context({"f": form, "colours": {"A&B": "#123456"}})
    with translation.override(lang):
        numbers, votes, _prefs = FORM_TAGS.render(context).split("|")
        ref_numbers, ref_votes, ref_prefs = FORM_REFERENCE.render(context).split("|")
        prefs = preference_tables(form)
    assert (numbers, votes) == (ref_numbers, ref_votes)
    assert "<x>" not in prefs and "<i>" not in votes and "<votes>" not in numbers
    rows = ref_prefs.split(str(escape('List "1" <&>')))[1]
    assert rows in prefs  # preference rows as a template would write them
