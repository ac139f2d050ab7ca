"""pyHanko's side of bench/signing.sh: PAdES B-B signing of the same fixture PDF with the same
RSA-2048 key and certificate as the vanban benchmark, and validation of vanban's
two-signature file. One thread; the key and certificates are loaded once, the PDF is read
into memory once, as vanban's side does.

    python bench/pyhanko_bench.py DIR FIXTURE [N_SIGN] [N_VALIDATE]

DIR holds what `VANBAN_BENCH_OUT=DIR cargo bench -p vanban-pades --bench signing` writes:
signer_key.pem, signer_cert.pem, chain.pem, root.pem, two_signatures_bt.pdf,
two_signatures_bb.pdf. Prints the figures, then PYHANKO_*=value lines for the script.
"""

import logging
import sys
import time
from io import BytesIO
from importlib.metadata import version
from pathlib import Path

from pyhanko.keys import load_cert_from_pemder
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.signers import PdfSignatureMetadata
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext


def main():
    logging.disable(logging.WARNING)  # soft-fail revocation warnings would flood the output
    out = Path(sys.argv[1])
    fixture = Path(sys.argv[2]).read_bytes()
    n_sign = int(sys.argv[3]) if len(sys.argv) > 3 else 30
    n_val = int(sys.argv[4]) if len(sys.argv) > 4 else 30

    signer = signers.SimpleSigner.load(
        str(out / "signer_key.pem"),
        str(out / "signer_cert.pem"),
        ca_chain_files=(str(out / "chain.pem"),),
    )
    assert signer is not None, "pyHanko could not load the key or certificates"
    root = load_cert_from_pemder(str(out / "root.pem"))
    meta = PdfSignatureMetadata(
        field_name="vb_signature_signer", subfilter=SigSeedSubFilter.PADES
    )

    def sign_once(bytes_reserved=None):
        w = IncrementalPdfFileWriter(BytesIO(fixture))
        return signers.sign_pdf(
            w, signature_meta=meta, signer=signer, bytes_reserved=bytes_reserved
        ).getvalue()

    def validate_once(data):
        # A fresh context per document: pyHanko's ValidationContext caches paths and
        # results, and a validating server sees a different file each time.
        vc = ValidationContext(
            trust_roots=[root], allow_fetching=False, revocation_mode="soft-fail"
        )
        r = PdfFileReader(BytesIO(data))
        sigs = r.embedded_signatures
        for s in sigs:
            st = validate_pdf_signature(s, vc)
            assert st.bottom_line, f"pyHanko does not accept {s.field_name}: {st.pretty_print_details()}"
        return len(sigs)

    print(
        f"pyHanko {version('pyHanko')} (certvalidator {version('pyhanko-certvalidator')}), "
        f"Python {sys.version.split()[0]}, one thread, key loaded once:"
    )
    # Warm-up: imports, caches, first-call costs. Also checks the output verifies.
    sample = sign_once()
    validate_once(sample)
    sign_once(16384)

    def run(label, n, unit, f, key, count=1):
        t = time.perf_counter()
        done = 0
        for _ in range(n):
            got = f()
            done += got if count is None else count
        d = time.perf_counter() - t
        ms = d * 1000 / done
        print(
            f"  {label:<58} {done:>5} {unit} in {d:>6.2f} s = {ms:>7.3f} ms = {1000 / ms:>7.1f} {unit}/s"
        )
        return key, done / d

    results = [
        run(
            "B-B signer signature (defaults: reserve estimated)",
            n_sign,
            "sig",
            sign_once,
            "PYHANKO_BB_PER_S",
        ),
        run(
            "B-B signer signature (bytes_reserved=16384)",
            n_sign,
            "sig",
            lambda: sign_once(16384),
            "PYHANKO_BB16K_PER_S",
        ),
    ]
    for name, key in (
        ("two_signatures_bt.pdf", "PYHANKO_VALIDATE_SIG_PER_S"),
        ("two_signatures_bb.pdf", "PYHANKO_VALIDATE_BB_SIG_PER_S"),
    ):
        data = (out / name).read_bytes()
        label = "validation, vanban two-signature " + ("B-T" if "bt" in name else "B-B") + " file"
        results.append(run(label, n_val, "sig", lambda: validate_once(data), key, None))
    print(f"  signed size (defaults): {len(sample)} bytes")
    for key, v in results:
        print(f"{key}={v:.2f}")


if __name__ == "__main__":
    main()
