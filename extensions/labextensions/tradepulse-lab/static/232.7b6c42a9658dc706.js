"use strict";(self.rspackChunktradepulse_lab=self.rspackChunktradepulse_lab||[]).push([[232],{475(t,e,r){var o=r(601),a=r.n(o),n=r(314),i=(r.n(n))()(a());i.push([t.id,`/* The TradePulse sidebar panel: JupyterLab's own colours and fonts, so it follows the theme. */

.tp-lab {
  display: flex;
  flex-direction: column;
  min-width: 240px;
  background: var(--jp-layout-color1);
  color: var(--jp-ui-font-color1);
  font-family: var(--jp-ui-font-family);
  font-size: var(--jp-ui-font-size1);
}

.tp-lab-header {
  display: flex;
  align-items: center;
  justify-content: space-between;
  flex: 0 0 auto;
  padding: 4px 8px 4px 12px;
  border-bottom: var(--jp-border-width) solid var(--jp-border-color2);
}

.tp-lab-title {
  margin: 0;
  font-size: var(--jp-ui-font-size1);
  font-weight: 600;
  text-transform: uppercase;
  letter-spacing: 0.04em;
}

.tp-lab[data-refreshing='true'] .tp-lab-refresh {
  opacity: 0.5;
}

.tp-lab-content {
  flex: 1 1 auto;
  overflow: auto;
  padding: 0 12px 12px;
}

.tp-lab-heading {
  margin: 12px 0 6px;
  font-size: var(--jp-ui-font-size1);
  font-weight: 600;
  color: var(--jp-ui-font-color2);
}

.tp-lab-error {
  padding: 6px 8px;
  border-left: 3px solid var(--jp-error-color1);
  background: var(--jp-error-color3, var(--jp-layout-color2));
  color: var(--jp-ui-font-color1);
  overflow-wrap: anywhere;
}

.tp-lab-facts {
  display: grid;
  grid-template-columns: max-content 1fr;
  gap: 3px 12px;
  margin: 0;
}

.tp-lab-facts dt {
  color: var(--jp-ui-font-color2);
}

.tp-lab-facts dd {
  margin: 0;
  overflow-wrap: anywhere;
  font-variant-numeric: tabular-nums;
}

.tp-lab-state-active {
  color: var(--jp-success-color1);
  font-weight: 600;
}

.tp-lab-state-reducing {
  color: var(--jp-warn-color1);
  font-weight: 600;
}

.tp-lab-state-halted {
  color: var(--jp-error-color1);
  font-weight: 600;
}

.tp-lab-health-degraded {
  color: var(--jp-warn-color1);
}

.tp-lab-engines {
  list-style: none;
  margin: 8px 0 0;
  padding: 0;
}

.tp-lab-engine {
  display: flex;
  gap: 8px;
  padding: 2px 0;
}

.tp-lab-engine-symbol {
  color: var(--jp-ui-font-color2);
  flex: 1 1 auto;
}

.tp-lab-versions {
  width: 100%;
  border-collapse: collapse;
}

.tp-lab-versions th {
  text-align: left;
  font-weight: normal;
  color: var(--jp-ui-font-color2);
  border-bottom: var(--jp-border-width) solid var(--jp-border-color2);
  padding: 2px 4px 2px 0;
}

.tp-lab-versions td {
  padding: 3px 4px 3px 0;
  vertical-align: top;
}

.tp-lab-version-id {
  font-family: var(--jp-code-font-family);
  font-size: var(--jp-code-font-size);
  overflow-wrap: anywhere;
}

.tp-lab-stage {
  display: inline-block;
  padding: 0 6px;
  border-radius: 8px;
  font-size: var(--jp-ui-font-size0);
  border: 1px solid currentcolor;
}

.tp-lab-stage-research {
  color: var(--jp-ui-font-color2);
}

.tp-lab-stage-paper {
  color: var(--jp-brand-color1);
}

.tp-lab-stage-live {
  color: var(--jp-success-color1);
  font-weight: 600;
}

.tp-lab-stage-retired {
  color: var(--jp-ui-font-color3);
  text-decoration: line-through;
}

.tp-lab-runbook-list {
  list-style: none;
  margin: 0;
  padding: 0;
}

.tp-lab-runbook {
  display: block;
  width: 100%;
  padding: 4px 6px;
  border: none;
  background: none;
  color: var(--jp-content-link-color);
  text-align: left;
  font: inherit;
  cursor: pointer;
}

.tp-lab-runbook:hover {
  background: var(--jp-layout-color2);
  text-decoration: underline;
}

.tp-lab-runbook:disabled {
  color: var(--jp-ui-font-color3);
  cursor: default;
  text-decoration: none;
}

.tp-lab-empty,
.tp-lab-note,
.tp-lab-updated {
  margin: 4px 0;
  color: var(--jp-ui-font-color2);
  font-size: var(--jp-ui-font-size0);
  overflow-wrap: anywhere;
}

.tp-lab-updated {
  margin-top: 12px;
}
`,""]),r.d(e,{},{A:i})},314(t){t.exports=function(t){var e=[];return e.toString=function(){return this.map(function(e){var r="",o=void 0!==e[5];return e[4]&&(r+="@supports (".concat(e[4],") {")),e[2]&&(r+="@media ".concat(e[2]," {")),o&&(r+="@layer".concat(e[5].length>0?" ".concat(e[5]):""," {")),r+=t(e),o&&(r+="}"),e[2]&&(r+="}"),e[4]&&(r+="}"),r}).join("")},e.i=function(t,r,o,a,n){"string"==typeof t&&(t=[[null,t,void 0]]);var i={};if(o)for(var l=0;l<this.length;l++){var p=this[l][0];null!=p&&(i[p]=!0)}for(var c=0;c<t.length;c++){var s=[].concat(t[c]);o&&i[s[0]]||(void 0!==n&&(void 0===s[5]||(s[1]="@layer".concat(s[5].length>0?" ".concat(s[5]):""," {").concat(s[1],"}")),s[5]=n),r&&(s[2]&&(s[1]="@media ".concat(s[2]," {").concat(s[1],"}")),s[2]=r),a&&(s[4]?(s[1]="@supports (".concat(s[4],") {").concat(s[1],"}"),s[4]=a):s[4]="".concat(a)),e.push(s))}},e}},601(t){t.exports=function(t){return t[1]}},72(t){var e=[];function r(t){for(var r=-1,o=0;o<e.length;o++)if(e[o].identifier===t){r=o;break}return r}function o(t,o){for(var a={},n=[],i=0;i<t.length;i++){var l=t[i],p=o.base?l[0]+o.base:l[0],c=a[p]||0,s="".concat(p," ").concat(c);a[p]=c+1;var d=r(s),u={css:l[1],media:l[2],sourceMap:l[3],supports:l[4],layer:l[5]};if(-1!==d)e[d].references++,e[d].updater(u);else{var f=function(t,e){var r=e.domAPI(e);return r.update(t),function(e){e?(e.css!==t.css||e.media!==t.media||e.sourceMap!==t.sourceMap||e.supports!==t.supports||e.layer!==t.layer)&&r.update(t=e):r.remove()}}(u,o);o.byIndex=i,e.splice(i,0,{identifier:s,updater:f,references:1})}n.push(s)}return n}t.exports=function(t,a){var n=o(t=t||[],a=a||{});return function(t){t=t||[];for(var i=0;i<n.length;i++){var l=r(n[i]);e[l].references--}for(var p=o(t,a),c=0;c<n.length;c++){var s=r(n[c]);0===e[s].references&&(e[s].updater(),e.splice(s,1))}n=p}}},659(t){var e={};t.exports=function(t,r){var o=function(t){if(void 0===e[t]){var r=document.querySelector(t);if(window.HTMLIFrameElement&&r instanceof window.HTMLIFrameElement)try{r=r.contentDocument.head}catch(t){r=null}e[t]=r}return e[t]}(t);if(!o)throw Error("Couldn't find a style target. This probably means that the value for the 'insert' parameter is invalid.");o.appendChild(r)}},540(t){t.exports=function(t){var e=document.createElement("style");return t.setAttributes(e,t.attributes),t.insert(e,t.options),e}},56(t,e,r){t.exports=function(t){var e=r.nc;e&&t.setAttribute("nonce",e)}},825(t){t.exports=function(t){if("u"<typeof document)return{update:function(){},remove:function(){}};var e=t.insertStyleElement(t);return{update:function(r){var o,a,n;o="",r.supports&&(o+="@supports (".concat(r.supports,") {")),r.media&&(o+="@media ".concat(r.media," {")),(a=void 0!==r.layer)&&(o+="@layer".concat(r.layer.length>0?" ".concat(r.layer):""," {")),o+=r.css,a&&(o+="}"),r.media&&(o+="}"),r.supports&&(o+="}"),(n=r.sourceMap)&&"u">typeof btoa&&(o+="\n/*# sourceMappingURL=data:application/json;base64,".concat(btoa(unescape(encodeURIComponent(JSON.stringify(n))))," */")),t.styleTagTransform(o,e,t.options)},remove:function(){var t;null===(t=e).parentNode||t.parentNode.removeChild(t)}}}},113(t){t.exports=function(t,e){if(e.styleSheet)e.styleSheet.cssText=t;else{for(;e.firstChild;)e.removeChild(e.firstChild);e.appendChild(document.createTextNode(t))}}},579(t,e,r){var o=r(72),a=r.n(o),n=r(825),i=r.n(n),l=r(659),p=r.n(l),c=r(56),s=r.n(c),d=r(540),u=r.n(d),f=r(113),v=r.n(f),b=r(475),g={};g.styleTagTransform=v(),g.setAttributes=s(),g.insert=p().bind(null,"head"),g.domAPI=i(),g.insertStyleElement=u(),a()(b.A,g),b.A&&b.A.locals&&b.A.locals}}]);