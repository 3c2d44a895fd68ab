/* One top-level field of a JSON object, as PostgreSQL's `payload::jsonb ->> field` reads it.
 *
 * A validating reader of RFC 8259 JSON, as PostgreSQL's: the whole text must be valid, or
 * there is no field (PostgreSQL's cast would fail, and the key is the whole payload on
 * both sides).  jsonb's own rules are followed where they differ from plain JSON: \u0000
 * and unpaired surrogates are refused, the last of duplicate members wins, and a number
 * reads back as numeric prints it.
 */
#include <string.h>

#include "json_field.h"

#define MAX_DEPTH 1000
#define MAX_EXPONENT 100000

struct reader {
	const char *p;
	const char *end;
	int depth;
};

/* Where the wanted member's value was last seen, and what it was. */
struct found {
	bool scalar;		/* a string, number or boolean */
	char *out;
	size_t outsize;
	bool fits;
};

static void
skip_space(struct reader *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
		r->p++;
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool
read_hex4(struct reader *r, unsigned *cp)
{
	*cp = 0;
	if (r->end - r->p < 4)
		return false;
	for (int i = 0; i < 4; i++) {
		int v = hex_value(*r->p++);

		if (v < 0)
			return false;
		*cp = *cp << 4 | (unsigned) v;
	}
	return true;
}

/* Appends to a bounded buffer (dst NULL: just validate); false when it does not fit. */
static bool
append(char *dst, size_t size, size_t *pos, const char *bytes, size_t n)
{
	if (dst == NULL)
		return true;
	if (*pos + n + 1 > size)
		return false;
	memcpy(dst + *pos, bytes, n);
	*pos += n;
	dst[*pos] = '\0';
	return true;
}

static size_t
utf8_encode(unsigned cp, char out[4])
{
	if (cp < 0x80) {
		out[0] = (char) cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char) (0xC0 | cp >> 6);
		out[1] = (char) (0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char) (0xE0 | cp >> 12);
		out[1] = (char) (0x80 | (cp >> 6 & 0x3F));
		out[2] = (char) (0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char) (0xF0 | cp >> 18);
	out[1] = (char) (0x80 | (cp >> 12 & 0x3F));
	out[2] = (char) (0x80 | (cp >> 6 & 0x3F));
	out[3] = (char) (0x80 | (cp & 0x3F));
	return 4;
}

/*
 * Reads a string (r->p at its opening quote), unescaped into dst if dst is not NULL.
 * *fits turns false if dst is too small (the string is still read and validated).
 */
static bool
read_string(struct reader *r, char *dst, size_t size, bool *fits)
{
	size_t pos = 0;

	if (dst && size)
		dst[0] = '\0';
	r->p++;
	while (r->p < r->end) {
		unsigned char c = (unsigned char) *r->p++;
		char buf[4];
		unsigned cp;

		if (c == '"')
			return true;
		if (c < 0x20)
			return false;	/* raw control characters are not allowed */
		if (c != '\\') {
			if (*fits && !append(dst, size, &pos, (const char *) &c, 1))
				*fits = false;
			continue;
		}
		if (r->p >= r->end)
			return false;
		switch (*r->p++) {
		case '"':
			cp = '"';
			break;
		case '\\':
			cp = '\\';
			break;
		case '/':
			cp = '/';
			break;
		case 'b':
			cp = '\b';
			break;
		case 'f':
			cp = '\f';
			break;
		case 'n':
			cp = '\n';
			break;
		case 'r':
			cp = '\r';
			break;
		case 't':
			cp = '\t';
			break;
		case 'u':
			if (!read_hex4(r, &cp) || cp == 0)
				return false;	/* jsonb cannot hold \u0000 */
			if (cp >= 0xDC00 && cp <= 0xDFFF)
				return false;	/* a low surrogate alone */
			if (cp >= 0xD800 && cp <= 0xDBFF) {
				unsigned low;

				if (r->end - r->p < 6 || r->p[0] != '\\' || r->p[1] != 'u')
					return false;
				r->p += 2;
				if (!read_hex4(r, &low) || low < 0xDC00 || low > 0xDFFF)
					return false;
				cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
			}
			break;
		default:
			return false;
		}
		if (*fits && !append(dst, size, &pos, buf, utf8_encode(cp, buf)))
			*fits = false;
	}
	return false;
}

/*
 * Reads a number and, if out is not NULL, writes it as PostgreSQL's numeric prints it:
 * no exponent, the scale of the literal less its exponent, no negative zero.
 */
static bool
read_number(struct reader *r, char *out, size_t size, bool *fits)
{
	const char *int_start, *frac_start = NULL;
	size_t int_len, frac_len = 0;
	char digits[512];
	size_t n = 0, pos_out = 0;
	long exp = 0, point;
	bool negative = false, zero = true;

	if (r->p < r->end && *r->p == '-') {
		negative = true;
		r->p++;
	}
	if (r->p >= r->end || *r->p < '0' || *r->p > '9')
		return false;
	int_start = r->p;
	if (*r->p == '0')
		r->p++;
	else
		while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
			r->p++;
	int_len = (size_t) (r->p - int_start);
	if (r->p < r->end && *r->p == '.') {
		r->p++;
		frac_start = r->p;
		while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
			r->p++;
		frac_len = (size_t) (r->p - frac_start);
		if (frac_len == 0)
			return false;
	}
	if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
		bool exp_negative = false;
		const char *exp_start;

		r->p++;
		if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
			exp_negative = *r->p++ == '-';
		exp_start = r->p;
		while (r->p < r->end && *r->p >= '0' && *r->p <= '9') {
			if (exp < MAX_EXPONENT * 10)
				exp = exp * 10 + (*r->p - '0');
			r->p++;
		}
		if (r->p == exp_start || exp > MAX_EXPONENT)
			return false;	/* PostgreSQL: out of numeric's range */
		if (exp_negative)
			exp = -exp;
	}
	if (out == NULL || !*fits)
		return true;
	if (int_len + frac_len >= sizeof(digits)) {
		*fits = false;
		return true;
	}
	memcpy(digits, int_start, int_len);
	if (frac_len)
		memcpy(digits + int_len, frac_start, frac_len);
	n = int_len + frac_len;
	for (size_t i = 0; i < n; i++)
		zero = zero && digits[i] == '0';
	/* digits[0..point) before the decimal point, the rest after it. */
	point = (long) int_len + exp;
	{
		long scale = (long) frac_len - exp > 0 ? (long) frac_len - exp : 0;
		bool any = false;

		if (negative && !zero && !append(out, size, &pos_out, "-", 1))
			goto too_long;
		for (long i = 0; i < point; i++) {
			char d = i < (long) n ? digits[i] : '0';

			if (d == '0' && !any && i < point - 1)
				continue;	/* leading zeros */
			any = true;
			if (!append(out, size, &pos_out, &d, 1))
				goto too_long;
		}
		if (!any && !append(out, size, &pos_out, "0", 1))
			goto too_long;
		if (scale > 0 && !append(out, size, &pos_out, ".", 1))
			goto too_long;
		for (long i = 0; i < scale; i++) {
			long at = point + i;
			char d = at >= 0 && at < (long) n ? digits[at] : '0';

			if (!append(out, size, &pos_out, &d, 1))
				goto too_long;
		}
	}
	return true;
too_long:
	*fits = false;
	return true;
}

static bool read_value(struct reader *r, struct found *f);

static bool
read_literal(struct reader *r, const char *word)
{
	size_t len = strlen(word);

	if ((size_t) (r->end - r->p) < len || memcmp(r->p, word, len) != 0)
		return false;
	r->p += len;
	return true;
}

static bool
read_array(struct reader *r)
{
	r->p++;
	skip_space(r);
	if (r->p < r->end && *r->p == ']') {
		r->p++;
		return true;
	}
	for (;;) {
		skip_space(r);
		if (!read_value(r, NULL))
			return false;
		skip_space(r);
		if (r->p < r->end && *r->p == ',') {
			r->p++;
			continue;
		}
		if (r->p < r->end && *r->p == ']') {
			r->p++;
			return true;
		}
		return false;
	}
}

/* An object; at the top level (field not NULL) the wanted member's value goes to f. */
static bool
read_object(struct reader *r, const char *field, struct found *f)
{
	r->p++;
	skip_space(r);
	if (r->p < r->end && *r->p == '}') {
		r->p++;
		return true;
	}
	for (;;) {
		char key[256];
		bool key_fits = true;

		skip_space(r);
		if (r->p >= r->end || *r->p != '"' || !read_string(r, key, sizeof(key), &key_fits))
			return false;
		skip_space(r);
		if (r->p >= r->end || *r->p != ':')
			return false;
		r->p++;
		skip_space(r);
		if (field != NULL && key_fits && strcmp(key, field) == 0) {
			/* The last member of that name wins, as in jsonb. */
			f->fits = true;
			f->scalar = false;
			if (!read_value(r, f))
				return false;
		} else if (!read_value(r, NULL))
			return false;
		skip_space(r);
		if (r->p < r->end && *r->p == ',') {
			r->p++;
			continue;
		}
		if (r->p < r->end && *r->p == '}') {
			r->p++;
			return true;
		}
		return false;
	}
}

/* A value; if f is not NULL, a scalar one is written to f->out. */
static bool
read_value(struct reader *r, struct found *f)
{
	bool ok, dummy = true;

	if (r->p >= r->end)
		return false;
	if (++r->depth > MAX_DEPTH)
		return false;
	switch (*r->p) {
	case '{':
		ok = read_object(r, NULL, NULL);
		break;
	case '[':
		ok = read_array(r);
		break;
	case '"':
		ok = read_string(r, f ? f->out : NULL, f ? f->outsize : 0, f ? &f->fits : &dummy);
		if (f)
			f->scalar = true;
		break;
	case 't':
		ok = read_literal(r, "true");
		if (f && ok) {
			f->scalar = true;
			f->fits = f->fits && f->outsize > 4;
			if (f->fits)
				strcpy(f->out, "true");
		}
		break;
	case 'f':
		ok = read_literal(r, "false");
		if (f && ok) {
			f->scalar = true;
			f->fits = f->fits && f->outsize > 5;
			if (f->fits)
				strcpy(f->out, "false");
		}
		break;
	case 'n':
		ok = read_literal(r, "null");
		break;
	default:
		ok = read_number(r, f ? f->out : NULL, f ? f->outsize : 0, f ? &f->fits : &dummy);
		if (f)
			f->scalar = true;
		break;
	}
	r->depth--;
	return ok;
}

bool
json_field(const char *text, size_t len, const char *field, char *out, size_t outsize)
{
	struct reader r = {.p = text, .end = text + len};
	struct found f = {.out = out, .outsize = outsize};
	char seen[1] = {0};

	(void) seen;
	if (outsize == 0)
		return false;
	out[0] = '\0';
	skip_space(&r);
	if (r.p >= r.end || *r.p != '{')
		return false;	/* not an object (or not JSON): no field */
	r.depth = 1;
	if (!read_object(&r, field, &f))
		return false;
	skip_space(&r);
	if (r.p != r.end)
		return false;
	return f.scalar && f.fits;
}
