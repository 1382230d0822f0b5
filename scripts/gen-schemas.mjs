#!/usr/bin/env node
// placeholder until the schemas exist
