// Generates the case tables of src/jinja_eval.c from this Node's
// String.prototype.toUpperCase/toLowerCase (what @huggingface/jinja's upper,
// lower, title and capitalize use): runs of code points that map by a common
// delta (every code point, or every other one), and the code points that
// map to several. Usage: node tests/oracle/gen_case_tables.js > tables.c
"use strict";
function tables(upper){
  const simple=[], multi=[];
  for(let cp=0; cp<=0x10FFFF; cp++){
    if(cp>=0xD800&&cp<=0xDFFF) continue;
    const s=String.fromCodePoint(cp);
    const r=upper? s.toUpperCase(): s.toLowerCase();
    if(r===s) continue;
    const cps=Array.from(r).map(c=>c.codePointAt(0));
    if(cps.length===1) simple.push([cp,cps[0]]); else multi.push([cp,cps]);
  }
  // runs: consecutive entries with same delta and stride 1 or 2
  const runs=[];
  let i=0;
  while(i<simple.length){
    const [c0,m0]=simple[i]; const d=m0-c0;
    let j=i+1, stride=0;
    if(j<simple.length && simple[j][1]-simple[j][0]===d && (simple[j][0]-c0===1||simple[j][0]-c0===2)) stride=simple[j][0]-c0;
    if(stride){ while(j<simple.length && simple[j][0]-simple[j-1][0]===stride && simple[j][1]-simple[j][0]===d) j++; }
    else stride=1;
    runs.push([c0, simple[j-1][0], d, stride]);
    i=j;
  }
  return {runs, multi, nsimple: simple.length};
}
const U=tables(true), L=tables(false);
// eslint-disable-next-line no-console
console.error('upper runs',U.runs.length,'multi',U.multi.length,'simple',U.nsimple,'| lower runs',L.runs.length,'multi',L.multi.length);
function emit(name,t){
  let o=`static const struct jv_case_run ${name}_runs[] = {\n`;
  let line='   ';
  for(const [a,b,d,s] of t.runs){ const item=` {0x${a.toString(16).toUpperCase()}, 0x${b.toString(16).toUpperCase()}, ${d}, ${s}},`; if(line.length+item.length>118){o+=line+'\n';line='   ';} line+=item; }
  o+=line+'\n};\n';
  o+=`static const struct jv_case_multi ${name}_multi[] = {\n`;
  line='   ';
  for(const [c,cps] of t.multi){ const item=` {0x${c.toString(16).toUpperCase()}, {${cps.map(x=>'0x'+x.toString(16).toUpperCase()).join(', ')}${cps.length<3?', 0'.repeat(3-cps.length):''}}},`; if(line.length+item.length>118){o+=line+'\n';line='   ';} line+=item; }
  o+=line+'\n};\n';
  return o;
}
process.stdout.write(emit('jv_upper',U)+emit('jv_lower',L));
