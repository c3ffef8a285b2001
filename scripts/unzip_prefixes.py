"""Extract only the members of a zip archive under the given prefixes (the ansible wheel is large)."""

import sys
import zipfile


def main(archive: str, dest: str, prefixes: list[str]) -> None:
    with zipfile.ZipFile(archive) as zf:
        members = [name for name in zf.namelist() if name.startswith(tuple(prefixes))]
        if not members:
            sys.exit('no member of %s starts with %s' % (archive, ', '.join(prefixes)))
        zf.extractall(dest, members)


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
