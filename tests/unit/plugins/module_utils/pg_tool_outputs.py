# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Outputs recorded from the real PostgreSQL 15.18 client tools (Debian 15.18-0+deb12u1) on this project's
machines, against a 15.18 server: the parsers in _pg_backup and _postgres are pinned to them."""

from __future__ import annotations

TOOL_VERSION = '15.18'

PG_DUMP_VERSION = 'pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n'
PG_RESTORE_VERSION = 'pg_restore (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n'

# pg_restore --list of `pg_dump -Fc -Z1` of a database with two tables, a view, a comment holding a semicolon.
LIST_CUSTOM = """\
;
; Archive created at 2026-11-22 03:24:29 UTC
;     dbname: shop
;     TOC Entries: 17
;     Compression: 1
;     Dump Version: 1.14-0
;     Format: CUSTOM
;     Integer: 4 bytes
;     Offset: 8 bytes
;     Dumped from database version: 15.18 (Debian 15.18-0+deb12u1)
;     Dumped by pg_dump version: 15.18 (Debian 15.18-0+deb12u1)
;
;
; Selected TOC Entries:
;
216; 1259 16398 TABLE public alembic_version artisan
215; 1259 16388 TABLE public users artisan
3364; 0 0 COMMENT public TABLE users artisan
214; 1259 16387 SEQUENCE public users_id_seq artisan
3365; 0 0 SEQUENCE OWNED BY public users_id_seq artisan
217; 1259 16403 VIEW public v artisan
3205; 2604 16391 DEFAULT public users id artisan
3357; 0 16398 TABLE DATA public alembic_version artisan
3356; 0 16388 TABLE DATA public users artisan
3366; 0 0 SEQUENCE SET public users_id_seq artisan
3211; 2606 16402 CONSTRAINT public alembic_version alembic_version_pkey artisan
3207; 2606 16397 CONSTRAINT public users users_email_key artisan
3209; 2606 16395 CONSTRAINT public users users_pkey artisan
"""

# pg_restore --list of `pg_dump -Fc -Z1` of an empty database: a header, no entries.
LIST_CUSTOM_EMPTY = """\
;
; Archive created at 2026-11-22 03:24:29 UTC
;     dbname: empty
;     TOC Entries: 4
;     Compression: 1
;     Dump Version: 1.14-0
;     Format: CUSTOM
;     Integer: 4 bytes
;     Offset: 8 bytes
;     Dumped from database version: 15.18 (Debian 15.18-0+deb12u1)
;     Dumped by pg_dump version: 15.18 (Debian 15.18-0+deb12u1)
;
;
; Selected TOC Entries:
;
"""

# pg_restore --list of `pg_dump -Fd -j2 -Z1` of the first database.
LIST_DIRECTORY = """\
;
; Archive created at 2026-11-22 03:24:29 UTC
;     dbname: shop
;     TOC Entries: 17
;     Compression: 1
;     Dump Version: 1.14-0
;     Format: DIRECTORY
;     Integer: 4 bytes
;     Offset: 8 bytes
;     Dumped from database version: 15.18 (Debian 15.18-0+deb12u1)
;     Dumped by pg_dump version: 15.18 (Debian 15.18-0+deb12u1)
;
;
; Selected TOC Entries:
;
216; 1259 16398 TABLE public alembic_version artisan
215; 1259 16388 TABLE public users artisan
3364; 0 0 COMMENT public TABLE users artisan
214; 1259 16387 SEQUENCE public users_id_seq artisan
3365; 0 0 SEQUENCE OWNED BY public users_id_seq artisan
217; 1259 16403 VIEW public v artisan
3205; 2604 16391 DEFAULT public users id artisan
3357; 0 16398 TABLE DATA public alembic_version artisan
3356; 0 16388 TABLE DATA public users artisan
3366; 0 0 SEQUENCE SET public users_id_seq artisan
3211; 2606 16402 CONSTRAINT public alembic_version alembic_version_pkey artisan
3207; 2606 16397 CONSTRAINT public users users_email_key artisan
3209; 2606 16395 CONSTRAINT public users users_pkey artisan
"""

# The last bytes of `pg_dump -Fp` (15.14+ ends with psql's \\unrestrict after the marker, CVE-2025-8714).
PLAIN_TAIL = (
    b'pkey; Type: CONSTRAINT; Schema: public; Owner: artisan\n'
    b'--\n'
    b'\n'
    b'ALTER TABLE ONLY public.users\n'
    b'    ADD CONSTRAINT users_pkey PRIMARY KEY (id);\n'
    b'\n'
    b'\n'
    b'--\n'
    b'-- PostgreSQL database dump complete\n'
    b'--\n'
    b'\n'
    b'\\unrestrict WqpwMkgk8VjkWjAKMnumAQYazFGVdgPqm9dd5Eatxo7IFzf6akKtKLbpehDP5qu\n'
    b'\n'
)

# stderr of failures, each with its exit code.
PG_DUMP_WRONG_PASSWORD = (1, 'pg_dump: error: connection to server at "127.0.0.1", port 39787 failed: FATAL:  '
                             'password authentication failed for user "artisan"\n')
PG_DUMP_MISSING_DATABASE = (1, 'pg_dump: error: connection to server at "127.0.0.1", port 39787 failed: FATAL:  '
                               'database "nosuch" does not exist\n')
PG_DUMP_REFUSED = (1, 'pg_dump: error: connection to server at "127.0.0.1", port 1 failed: Connection refused\n'
                      '\tIs the server running on that host and accepting TCP/IP connections?\n')
PG_DUMP_UNKNOWN_HOST = (1, 'pg_dump: error: could not translate host name "nonexistent.invalid" to address: '
                           'Name or service not known\n')
# pg_restore --list of a custom archive cut after 300 bytes, and of a file that is no archive.
PG_RESTORE_TRUNCATED = (1, 'pg_restore: error: could not read from input file: end of file\n')
PG_RESTORE_NOT_AN_ARCHIVE = (1, 'pg_restore: error: input file does not appear to be a valid archive (too short?)\n')

# pg_restore --list of `pg_dump -Fc` of a database with a second schema (extra: a table, a function, a comment) and
# public (tables, an enum and a composite type, a view, a foreign key).
LIST_TWO_SCHEMAS = """\
;
; Archive created at 2026-11-26 22:30:00 UTC
;     dbname: exp
;     TOC Entries: 25
;     Compression: -1
;     Dump Version: 1.14-0
;     Format: CUSTOM
;     Integer: 4 bytes
;     Offset: 8 bytes
;     Dumped from database version: 15.18 (Debian 15.18-0+deb12u1)
;     Dumped by pg_dump version: 15.18 (Debian 15.18-0+deb12u1)
;
;
; Selected TOC Entries:
;
6; 2615 16500 SCHEMA - extra artisan
3382; 0 0 COMMENT - SCHEMA extra artisan
857; 1247 16519 TYPE public mood artisan
845; 1247 16432 TYPE public pair artisan
222; 1255 16525 FUNCTION extra f(integer, text) artisan
216; 1259 16501 TABLE extra t artisan
217; 1259 16504 TABLE public alembic_version artisan
221; 1259 16526 TABLE public audit_log artisan
218; 1259 16507 TABLE public users artisan
219; 1259 16512 SEQUENCE public users_id_seq artisan
3383; 0 0 SEQUENCE OWNED BY public users_id_seq artisan
220; 1259 16521 VIEW public v artisan
3222; 2604 16513 DEFAULT public users id artisan
3371; 0 16501 TABLE DATA extra t artisan
3372; 0 16504 TABLE DATA public alembic_version artisan
3375; 0 16526 TABLE DATA public audit_log artisan
3373; 0 16507 TABLE DATA public users artisan
3384; 0 0 SEQUENCE SET public users_id_seq artisan
3224; 2606 16515 CONSTRAINT public alembic_version alembic_version_pkey artisan
3226; 2606 16517 CONSTRAINT public users users_pkey artisan
3227; 2606 16529 FK CONSTRAINT public audit_log audit_log_user_id_fkey artisan
"""

# The object headers of `pg_dump -Fp` of the same database (schema and data).
PLAIN_HEADERS = """\
-- Name: extra; Type: SCHEMA; Schema: -; Owner: artisan
-- Name: SCHEMA extra; Type: COMMENT; Schema: -; Owner: artisan
-- Name: mood; Type: TYPE; Schema: public; Owner: artisan
-- Name: pair; Type: TYPE; Schema: public; Owner: artisan
-- Name: f(integer, text); Type: FUNCTION; Schema: extra; Owner: artisan
-- Name: t; Type: TABLE; Schema: extra; Owner: artisan
-- Name: alembic_version; Type: TABLE; Schema: public; Owner: artisan
-- Name: audit_log; Type: TABLE; Schema: public; Owner: artisan
-- Name: users; Type: TABLE; Schema: public; Owner: artisan
-- Name: users_id_seq; Type: SEQUENCE; Schema: public; Owner: artisan
-- Name: users_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: artisan
-- Name: v; Type: VIEW; Schema: public; Owner: artisan
-- Name: users id; Type: DEFAULT; Schema: public; Owner: artisan
-- Data for Name: t; Type: TABLE DATA; Schema: extra; Owner: artisan
-- Data for Name: alembic_version; Type: TABLE DATA; Schema: public; Owner: artisan
-- Data for Name: audit_log; Type: TABLE DATA; Schema: public; Owner: artisan
-- Data for Name: users; Type: TABLE DATA; Schema: public; Owner: artisan
-- Name: users_id_seq; Type: SEQUENCE SET; Schema: public; Owner: artisan
-- Name: alembic_version alembic_version_pkey; Type: CONSTRAINT; Schema: public; Owner: artisan
-- Name: users users_pkey; Type: CONSTRAINT; Schema: public; Owner: artisan
-- Name: audit_log audit_log_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: artisan
"""
