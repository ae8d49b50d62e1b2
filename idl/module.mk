# idl/: the XenAPI description and its generator (output only in $(B)/gen/api).
