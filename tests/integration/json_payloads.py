#!/usr/bin/env python3
# SPDX-License-Identifier: PostgreSQL
"""Payloads for t_json_routing.sh: deterministic (seeded), for comparing the node's routing
of json:FIELD keys with clustered_nodes.partition_of(key_of(...)) in PostgreSQL.

    json_payloads.py SEED ORDINARY EXTREME >lines

Each line is "CLASS RULE_HEX PAYLOAD_HEX".  ORDINARY payloads are what producers send (JSON
objects of every value type, escapes, duplicates, nested members, text that is not JSON or
is almost JSON); EXTREME ones are the classes where the node and PostgreSQL disagreed
(issue 20): exponents near and beyond numeric's range, exponents on zero, scales near
16383, nesting deeper than 1,000, numbers longer than 512 digits, printed keys over
16 KiB, unicode escapes (\\u0000, surrogates), whitespace jsonb refuses.  Every payload is
what a NOTIFY can carry: valid UTF-8, no NUL, under 8000 bytes.
"""
import json
import random
import sys

LIMIT = 7999  # NOTIFY payloads are shorter than 8000 bytes
FIELDS = ['id', 'clé id']  # rules json:id and json:clé id
WORDS = ['order', 'customer', 'id', 'x', 'é', 'ключ', '键', '😀', 'a"b', 'tab\there', 'nl\nx', '', ' ']


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)

    # ---- pieces ----
    def digits(self, n, lead_nonzero=True):
        if n <= 0:
            return ''
        first = str(self.r.randint(1, 9)) if lead_nonzero else str(self.r.randint(0, 9))
        return first + ''.join(str(self.r.randint(0, 9)) for _ in range(n - 1))

    def number(self, int_len=None, frac_len=None, exp=None, neg=None, zero=False):
        """A JSON number literal; None picks something ordinary."""
        r = self.r
        if neg is None:
            neg = r.random() < 0.3
        if int_len is None:
            int_len = r.choice([1, 1, 1, 2, 3, 5, 10, 20])
        ip = '0' if zero or r.random() < 0.15 else self.digits(int_len)
        if frac_len is None:
            frac_len = r.choice([0, 0, 0, 1, 2, 3, 6])
        fp = ('0' * frac_len) if zero else self.digits(frac_len, lead_nonzero=False)
        s = ('-' if neg else '') + ip + ('.' + fp if frac_len else '')
        if exp is None and r.random() < 0.3:
            exp = r.randint(-30, 30)
        if exp is not None:
            sign = '' if exp < 0 else r.choice(['', '+'])
            lead = '0' * r.choice([0, 0, 0, 1, 3])
            s += r.choice('eE') + ('-' if exp < 0 else sign) + lead + str(abs(exp))
        return s

    def ascii_word(self):
        return ''.join(self.r.choice('abcdefghijklmnopqrstuvwxyz0123456789-_ ') for _ in range(self.r.randint(0, 12)))

    def string_value(self):
        r = self.r
        k = r.random()
        if k < 0.5:
            text = self.ascii_word()
        elif k < 0.8:
            text = r.choice(WORDS) + str(r.randint(0, 999))
        else:
            text = ''.join(chr(r.choice([r.randint(1, 0x7f), r.randint(0x80, 0x7ff), r.randint(0x800, 0xd7ff),
                                         r.randint(0xe000, 0xffff), r.randint(0x10000, 0x10ffff)]))
                           for _ in range(r.randint(1, 6)))
        return json.dumps(text, ensure_ascii=r.random() < 0.3)

    def scalar(self):
        k = self.r.random()
        if k < 0.45:
            return self.string_value()
        if k < 0.8:
            return self.number()
        return self.r.choice(['true', 'false', 'null'])

    def value(self, depth=0):
        k = self.r.random()
        if depth > 4 or k < 0.7:
            return self.scalar()
        if k < 0.85:
            return '[' + ', '.join(self.value(depth + 1) for _ in range(self.r.randint(0, 3))) + ']'
        return self.obj([(self.name(), self.value(depth + 1)) for _ in range(self.r.randint(0, 3))])

    def name(self):
        return self.r.choice(['"x"', '"y"', '"idx"', '"Id"', '"id "', '"name"', '"ids"', '"clé"', '"i\\u0064s"'])

    def field_name(self, field):
        """The field's name as a JSON string, escaped or not."""
        r = self.r
        if r.random() < 0.7:
            return json.dumps(field, ensure_ascii=r.random() < 0.5)
        return '"' + ''.join('\\u%04x' % ord(c) if r.random() < 0.5 else c for c in field) + '"'

    def space(self):
        return self.r.choice(['', '', '', ' ', '\n', '\t', '\r\n', '  '])

    def obj(self, members):
        sp = self.space
        return '{' + sp() + (',' + sp()).join(n + sp() + ':' + sp() + v for n, v in members) + sp() + '}'

    def with_field(self, field, value, others=None):
        """An object holding field: value among other members."""
        members = others if others is not None else [(self.name(), self.value()) for _ in range(self.r.randint(0, 3))]
        members = list(members)
        members.insert(self.r.randint(0, len(members)), (self.field_name(field), value))
        return self.obj(members)

    # ---- ordinary payloads ----
    def ordinary(self, field):
        r = self.r
        k = r.random()
        if k < 0.55:
            return 'object', self.with_field(field, self.scalar())
        if k < 0.62:
            return 'nested', self.with_field(field, self.value(2) if r.random() < 0.5 else '[' + self.scalar() + ']')
        if k < 0.70:
            return 'missing', self.obj([(self.name(), self.value()) for _ in range(r.randint(0, 4))])
        if k < 0.76:
            members = [(self.field_name(field), self.value()) for _ in range(r.randint(2, 4))]
            return 'duplicate', self.obj(members + [(self.name(), self.value())] * r.randint(0, 1))
        if k < 0.82:
            return 'not_json', r.choice(['order-%d', 'id=%d', '%d', 'customer %d|x', '{id: %d}', "{'id': %d}",
                                         '[%d]', '"%d"', 'null', 'true', ' ', '']).replace('%d', str(r.randint(0, 99999)))
        if k < 0.92:
            return 'mutated', self.mutate(self.with_field(field, self.scalar()))
        return 'truncated', self.truncate(self.with_field(field, self.value()))

    def mutate(self, text):
        r = self.r
        i = r.randint(0, len(text))
        op = r.random()
        if op < 0.33:
            return text[:i] + text[i + 1:]
        ch = r.choice(['"', '\\', ',', ':', '{', '}', '[', ']', ' ', '0', 'e', '-', '.', 'x', '\x01', 'é'])
        if op < 0.66:
            return text[:i] + ch + text[i:]
        return text[:i] + ch + text[i + 1:]

    def truncate(self, text):
        return text[:self.r.randint(0, max(0, len(text) - 1))]

    # ---- extreme payloads ----
    def exp_big(self, field):
        """Exponents around numeric's weight limit (first digit at position 131071)."""
        r = self.r
        int_len, frac_len = r.randint(1, 8), r.choice([0, 0, 2, 5])
        lead_zeros = r.choice([0, 0, 3])
        edge = 131071 - (int_len - 1) + lead_zeros
        exp = r.choice([edge, edge + 1, edge - 1, edge + r.randint(-3000, 3000), r.randint(100000, 140000)])
        mant = self.digits(int_len) + ('.' + self.digits(frac_len, False) if frac_len else '')
        if lead_zeros:
            mant = '0.' + '0' * (lead_zeros - 1) + self.digits(int_len)
            exp = edge + int_len - 1 + r.choice([0, 1, -1])
        num = r.choice(['', '-']) + mant + r.choice('eE') + r.choice(['', '+']) + str(exp)
        return self.place(field, num)

    def exp_zero(self, field):
        r = self.r
        frac = r.choice([0, 0, 1, 3])
        exp = r.choice([r.randint(-20, 20), r.randint(100000, 200000), r.randint(-16390, -16375) + frac,
                        1073741822, 1073741823, -1073741822, r.randint(2, 10 ** 12), 10 ** 30])
        num = r.choice(['', '-']) + '0' + ('.' + '0' * frac if frac else '') + r.choice('eE') + str(exp)
        return self.place(field, num)

    def scale(self, field):
        """Negative exponents around numeric's 16383 digits after the point."""
        r = self.r
        frac = r.randint(0, 40)
        exp = -(16383 - frac) + r.choice([0, 0, 1, -1, r.randint(-50, 50)])
        num = self.number(int_len=r.randint(1, 5), frac_len=frac, exp=exp)
        return self.place(field, num)

    def exp_overflow(self, field):
        r = self.r
        exp = r.choice([1073741823, 1073741822, 2 ** 31, 10 ** r.randint(10, 40)]) * r.choice([1, -1])
        return self.place(field, r.choice(['1', '0', '5.5', '-0.01']) + 'e' + str(exp))

    def long_number(self, field):
        """More than 512 digits, with or without a point and an exponent."""
        r = self.r
        n = r.randint(513, 7800)
        int_len = r.randint(1, n)
        frac_len = n - int_len if r.random() < 0.6 else 0
        exp = r.choice([None, None, r.randint(-16383, 16383), 131071 - int_len + r.choice([0, 1, 2]),
                        -(16383 - frac_len) + r.choice([0, -1])])
        num = self.number(int_len=int_len, frac_len=frac_len, exp=exp)
        return self.place(field, num, room=n + 40)

    def long_value(self, field):
        """A key whose printed text is over 16 KiB: only a number can grow that much."""
        r = self.r
        if r.random() < 0.7:
            num = self.number(int_len=r.randint(1, 20), frac_len=r.randint(0, 5), exp=r.randint(16384, 131050))
        else:
            num = self.number(int_len=r.randint(1, 5), frac_len=r.randint(0, 50), exp=-r.randint(16300, 16390))
        return 'long_value', self.with_field(field, num)

    def depth(self, field):
        """Nesting deeper than 1,000, beside, before or as the field."""
        r = self.r
        shape = r.choice(['[]', '{}', '[{}]'])
        unit_open, unit_close = {'[]': ('[', ']'), '{}': ('{"a":', '}'), '[{}]': ('[{"":', '}]')}[shape]
        room = LIMIT - 60
        levels = 2 if shape == '[{}]' else 1  # per unit
        n = r.randint(1000 // levels + 1, room // (len(unit_open) + len(unit_close)))
        inner = r.choice(['1', '"s"', 'null', '[]']) if shape != '[]' or r.random() < 0.5 else ''
        if shape == '{}' and inner == '':
            inner = '1'
        close = unit_close * n
        if r.random() < 0.1:
            close = close[:-1]  # one level left open: invalid
        deep = unit_open * n + inner + close
        where = r.random()
        if where < 0.3:
            return 'depth', self.with_field(field, deep, others=[])
        return 'depth', self.with_field(field, self.scalar(), others=[('"deep"', deep)])

    def unicode(self, field):
        r = self.r
        pieces = []
        for _ in range(r.randint(1, 6)):
            k = r.random()
            if k < 0.15:
                pieces.append('\\u0000')
            elif k < 0.3:
                pieces.append('\\u%04x' % r.randint(0xd800, 0xdbff) + r.choice(['\\u%04x' % r.randint(0xdc00, 0xdfff)] * 3
                              + ['', 'x', '\\n', '\\u0041', '\\u%04x' % r.randint(0xd800, 0xdbff)]))
            elif k < 0.4:
                pieces.append('\\u%04x' % r.randint(0xdc00, 0xdfff))
            elif k < 0.6:
                pieces.append(('\\u%04x' if r.random() < 0.5 else '\\u%04X') % r.choice([r.randint(1, 0xd7ff), r.randint(0xe000, 0xffff)]))
            elif k < 0.7:
                pieces.append(r.choice(['\\uffff', '\\ufffe', '\\u0001', '\\u001f', '\\u007f', '\\u0080']))
            elif k < 0.8:
                pieces.append(chr(r.choice([r.randint(0x80, 0xd7ff), r.randint(0xe000, 0xffff), r.randint(0x10000, 0x10ffff)])))
            else:
                pieces.append(r.choice(['\\"', '\\\\', '\\/', '\\b', '\\f', '\\n', '\\r', '\\t', '\\x', "\\'", '\\u12', '\\u12g4', '\x1f', '\x7f']))
        s = '"' + ''.join(pieces) + '"'
        where = r.random()
        if where < 0.6:
            return 'unicode', self.with_field(field, s)
        if where < 0.8:
            return 'unicode', self.with_field(field, self.scalar(), others=[(s, '1')])  # as a member name
        return 'unicode', self.with_field(field, self.scalar(), others=[('"x"', '[' + s + ']')])

    def whitespace(self, field):
        r = self.r
        text = self.with_field(field, self.scalar())
        bad = r.choice(['\f', '\v', '\u00a0', '\ufeff', '\u2003', '\x1c', ' ', '\n', '\r', '\t'])
        # at a place between tokens: after '{', ',', ':' or at either end
        spots = [0, len(text)] + [i + 1 for i, c in enumerate(text) if c in '{,:']
        i = r.choice(spots)
        return 'whitespace', text[:i] + bad + text[i:]

    def place(self, field, num, room=60):
        """A number as the field's value, or beside it (where it spoils the whole cast)."""
        r = self.r
        if r.random() < 0.75:
            return self.with_field(field, num, others=[(self.name(), self.scalar())] if r.random() < 0.5 else [])
        return self.with_field(field, self.scalar(), others=[('"x"', r.choice([num, '[' + num + ']', '{"y":' + num + '}']))])

    def extreme(self, field):
        kinds = [('exp_big', self.exp_big, 3), ('exp_zero', self.exp_zero, 2), ('scale', self.scale, 2),
                 ('exp_overflow', self.exp_overflow, 1), ('long_number', self.long_number, 3),
                 ('long_value', self.long_value, 2), ('depth', self.depth, 3), ('unicode', self.unicode, 3),
                 ('whitespace', self.whitespace, 1)]
        total = sum(w for _, _, w in kinds)
        x = self.r.uniform(0, total)
        for name, make, w in kinds:
            if x < w:
                out = make(field)
                return out if isinstance(out, tuple) else (name, out)
            x -= w
        return 'exp_big', self.exp_big(field)


def emit(cls, field, payload):
    data = payload.encode('utf-8')
    if len(data) > LIMIT or b'\x00' in data:
        return False
    print(cls, ('json:' + field).encode('utf-8').hex(), data.hex())
    return True


def main():
    seed, ordinary, extreme = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    g = Gen(seed)
    for count, make in ((ordinary, g.ordinary), (extreme, g.extreme)):
        made = 0
        while made < count:
            field = g.r.choice(FIELDS) if g.r.random() < 0.15 else 'id'
            cls, payload = make(field)
            if emit(cls, field, payload):
                made += 1


main()
