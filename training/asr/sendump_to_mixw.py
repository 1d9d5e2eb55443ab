"""Mixture weights from a pocketsphinx "sendump" (8-bit quantised log weights).

Debian's pocketsphinx-en-us ships the en-us PTM model with its mixture weights only as a
sendump; sphinxtrain's bw needs a mixture_weights file. This expands the quantised values
back (weight = 1.0001 ** -(q << mixw_shift)), as sphinxtrain's python/cmusphinx/sendump.py
does (Python 2 there), and writes them in the Sphinx-III binary layout.

    python3 sendump_to_mixw.py MODEL/sendump MODEL/mixture_weights
"""
import struct, sys, numpy as np
def load(fn):
    f=open(fn,'rb'); fmt=['<I']
    def u(b):
        n=struct.unpack(fmt[0],b)[0]
        if n>65536: fmt[0]='>I'; n=struct.unpack(fmt[0],b)[0]
        return n
    def rs():
        n=u(f.read(4)); return None if n==0 else f.read(n)[:-1].decode()
    title=rs(); mc=mdc=fc=cc=0; shift=10
    while True:
        h=rs()
        if h is None: break
        k=h.split()
        if k[0]=="mixture_count": mc=int(k[1])
        if k[0]=="model_count": mdc=int(k[1])
        if k[0]=="mixw_shift": shift=int(k[1])
        if k[0]=="feature_count": fc=int(k[1])
        if k[0]=="cluster_count": cc=int(k[1])
    if cc==0:
        mdc=u(f.read(4)); mc=u(f.read(4))
    print("models",mdc,"mixtures",mc,"features",fc, file=sys.stderr)
    op=np.empty((mc,fc,mdc))
    for i in range(fc):
        for j in range(mdc):
            m=np.frombuffer(f.read(mc),dtype=np.uint8).astype(np.int64)<<shift
            op[:,i,j]=np.power(1.0001,-m)
    return op
op=load(sys.argv[1])
with open(sys.argv[2],'wb') as o:
    hdr=b"s3\nversion 1.0\n"
    lsb=(len(hdr)+len(b"endhdr\n"))&3
    hdr+= (b" "*(4-lsb) if lsb else b"")+b"endhdr\n"
    o.write(hdr); o.write(struct.pack("=i",0x11223344))
    d1,d2,d3=op.shape
    o.write(struct.pack("=IIII",d1,d2,d3,d1*d2*d3)); op.astype('<f4').tofile(o)
