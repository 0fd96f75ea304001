# Only the identity of Core's Mining interface: Init.makeMining names it. This project serves no
# mining methods; a call to one is answered as unimplemented.
@0xc77d03df6a41b505;

interface Mining @0xf9c68436df3af39e {
}
